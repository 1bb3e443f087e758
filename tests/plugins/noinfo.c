/* An ordinary shared library: no .tenon.info section. */
int noinfo_answer(void);
int noinfo_answer(void) { return 42; }
