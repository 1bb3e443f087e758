/* Plugin configs and metrics: the JSON Schema validator (defaults, every
 * keyword, paths with escapes, hostile schemas), configs reaching the cfg
 * test plugin at create() and through tenon.config/1, and its metrics read
 * back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgapi.h"
#include "internal.h"
#include "testutil.h"

static tenon_t *open_cfg(void)
{
    const char *dir = TEST_CFG_DIR;
    return open_scanned(&dir, 1);
}

/* The schema the cfg plugin states, from its static info. */
static const char *cfg_schema(tenon_t *t)
{
    const tenon_plugin_t *p;
    assert_int_equal(tenon_find(t, "cfg", &p), 0);
    assert_non_null(tenon_plugin_get(p, "config.schema"));
    return tenon_plugin_get(p, "config.schema");
}

static const struct test_cfg *cfg_vt(tenon_instance_t *inst, void **obj)
{
    const struct test_cfg *vt = tenon_get_interface(inst, TEST_CFG_ID, obj);
    assert_non_null(vt);
    return vt;
}

/* ---- the validator ------------------------------------------------------- */

static void defaults_filled(void **state)
{
    tenon_t *t = open_cfg();
    const char *schema = cfg_schema(t);
    char *out, *path;
    (void)state;

    assert_int_equal(
        tenon_config_validate(schema, "{\"file\": \"in.txt\"}", &out, &path),
        0);
    assert_null(path);
    /* schema order; nested defaults in the defaulted object */
    assert_string_equal(out, "{\"file\":\"in.txt\",\"mode\":\"fast\",\"level\":"
                             "3,\"ratio\":0.5,\"tags\":[\"a\"],\"limits\":{"
                             "\"rate\":100,\"burst\":10}}");
    free(out);

    /* given values win; a nested object that exists gets its defaults; the
     * members come out in schema order; 5.0 is an integer and becomes 5;
     * "pattern" is not supported and is ignored */
    assert_int_equal(
        tenon_config_validate(schema,
                              "{\"limits\": {\"burst\": 2}, \"level\": 5.0, "
                              "\"prefix\": \"y\", \"file\": \"f\", \"mode\": "
                              "\"slow\", \"ratio\": 1e-3, \"tags\": []}",
                              &out, NULL),
        0);
    assert_string_equal(out, "{\"file\":\"f\",\"mode\":\"slow\",\"level\":5,"
                             "\"ratio\":0.001,\"tags\":[],\"limits\":{"
                             "\"rate\":100,\"burst\":2},\"prefix\":\"y\"}");
    free(out);

    /* NULL is "{}": the required property is missing */
    assert_int_equal(tenon_config_validate(schema, NULL, &out, &path),
                     TENON_EINVAL);
    assert_null(out);
    assert_string_equal(path, "");
    free(path);
    tenon_close(t);
}

struct violation {
    const char *config, *path, *message;
};

static const struct violation violations[] = {
    /* wrong type */
    {"{\"file\": \"f\", \"level\": \"high\"}", "/level",
     "at /level: expected an integer, got \"high\""},
    {"{\"file\": \"f\", \"level\": 5.5}", "/level",
     "at /level: expected an integer, got 5.5"},
    {"{\"file\": 7}", "/file", "at /file: expected a string, got 7"},
    {"{\"file\": \"f\", \"note\": 5}", "/note",
     "at /note: expected a string or null, got 5"},
    /* missing required, at the root and nested */
    {"{}", "", "at \"\": missing required property \"file\""},
    {"{\"file\": \"f\", \"limits\": {\"rate\": 1, \"x\": 2}}", "/limits/x",
     "at /limits/x: unexpected property: expected one of \"rate\", "
     "\"burst\""},
    /* enum and const */
    {"{\"file\": \"f\", \"mode\": \"medium\"}", "/mode",
     "at /mode: expected one of \"fast\", \"slow\", got \"medium\""},
    {"{\"file\": \"f\", \"version\": 2}", "/version",
     "at /version: expected 1, got 2"},
    /* minimum, maximum, exclusive bounds */
    {"{\"file\": \"f\", \"level\": 0}", "/level",
     "at /level: expected an integer >= 1, got 0"},
    {"{\"file\": \"f\", \"level\": 11}", "/level",
     "at /level: expected an integer <= 10, got 11"},
    {"{\"file\": \"f\", \"ratio\": 1}", "/ratio",
     "at /ratio: expected a number < 1, got 1"},
    {"{\"file\": \"f\", \"ratio\": 0.0}", "/ratio",
     "at /ratio: expected a number > 0, got 0.0"},
    /* string length, in characters */
    {"{\"file\": \"\"}", "/file",
     "at /file: expected a string of at least 1 character, got \"\""},
    /* items: an element, and the count */
    {"{\"file\": \"f\", \"tags\": [\"ok\", \"waytoolong\"]}", "/tags/1",
     "at /tags/1: expected a string of at most 8 characters, got "
     "\"waytoolong\""},
    {"{\"file\": \"f\", \"tags\": [\"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
     "\u00e9\", 3]}",
     "/tags/1", "at /tags/1: expected a string, got 3"},
    {"{\"file\": \"f\", \"tags\": [\"a\", \"b\", \"c\", \"d\"]}", "/tags",
     "at /tags: expected an array of at most 3 items, got 4"},
    /* additionalProperties: false, and as a schema */
    {"{\"file\": \"f\", \"colour\": 1}", "/colour",
     "at /colour: unexpected property: expected one of \"file\", \"mode\", "
     "\"level\", \"ratio\", \"tags\", \"limits\", \"a/b~c\", \"labels\", "
     "..."},
    {"{\"file\": \"f\", \"labels\": {\"k\": 5}}", "/labels/k",
     "at /labels/k: expected a string, got 5"},
    /* nested */
    {"{\"file\": \"f\", \"limits\": {\"rate\": -1}}", "/limits/rate",
     "at /limits/rate: expected an integer >= 0, got -1"},
    {"{\"file\": \"f\", \"limits\": []}", "/limits",
     "at /limits: expected an object, got an array"},
    /* a key with '/' and '~', escaped in the pointer */
    {"{\"file\": \"f\", \"a/b~c\": \"yes\"}", "/a~1b~0c",
     "at /a~1b~0c: expected a boolean, got \"yes\""},
    /* not an object */
    {"[1, 2]", "", "at \"\": expected an object, got an array"},
    {"42", "", "at \"\": expected an object, got 42"},
};

/* Numbers past 2^53 compared as doubles let a too-big integer pass a
 * maximum and a real equal an integer it is not (review finding 14). */
static void big_numbers_exact(void **state)
{
    char *out = NULL;
    (void)state;
    assert_int_equal(
        tenon_config_validate("{\"properties\":{\"n\":{\"type\":\"integer\","
                              "\"maximum\":9007199254740992.0}}}",
                              "{\"n\":9007199254740993}", &out, NULL),
        TENON_EINVAL);
    assert_contains(tenon_last_error(), "at /n: expected an integer <=");
    assert_int_equal(tenon_config_validate("{\"properties\":{\"n\":{\"enum\":"
                                           "[9007199254740993]}}}",
                                           "{\"n\":9007199254740992.0}", &out,
                                           NULL),
                     TENON_EINVAL);
    assert_int_equal(
        tenon_config_validate("{\"properties\":{\"n\":{\"maximum\":"
                              "9223372036854775807}}}",
                              "{\"n\":9223372036854775807}", &out, NULL),
        0);
    free(out);
}

static void schema_violations(void **state)
{
    tenon_t *t = open_cfg();
    const char *schema = cfg_schema(t);
    (void)state;

    for (size_t i = 0; i < sizeof violations / sizeof *violations; i++) {
        const struct violation *v = &violations[i];
        char *out = (char *)"unset", *path = NULL;
        tenon_instance_t *inst = NULL;
        char want[1200];

        printf("config %s\n", v->config);
        assert_int_equal(tenon_config_validate(schema, v->config, &out, &path),
                         TENON_EINVAL);
        assert_null(out);
        assert_string_equal(tenon_last_error(), v->message);
        assert_string_equal(path, v->path);
        free(path);
        /* the same through an instance, naming the plugin; nothing loads */
        assert_int_equal(tenon_create_config(t, "cfg", v->config, NULL, &inst),
                         TENON_EINVAL);
        assert_null(inst);
        snprintf(want, sizeof want, "config of plugin 'cfg': %s", v->message);
        assert_string_equal(tenon_last_error(), want);
    }
    {
        const tenon_plugin_t *p;
        assert_int_equal(tenon_find(t, "cfg", &p), 0);
        assert_false(tenon_plugin_loaded(t, p));
    }
    tenon_close(t);
}

/* Numbers past 2^53 compare exactly: as doubles 2^53 + 1 would equal
 * 2^53.0 and pass as equal to it. */
static void number_precision(void **state)
{
    static const struct {
        const char *schema, *config;
        int ok;
    } cases[] = {
        /* integer against a real bound */
        {"{\"properties\": {\"n\": {\"maximum\": 9007199254740992.0}}}",
         "{\"n\": 9007199254740993}", 0},
        {"{\"properties\": {\"n\": {\"maximum\": 9007199254740992.0}}}",
         "{\"n\": 9007199254740992}", 1},
        {"{\"properties\": {\"n\": {\"exclusiveMinimum\": 1.5}}}", "{\"n\": 1}",
         0},
        {"{\"properties\": {\"n\": {\"exclusiveMinimum\": 1.5}}}", "{\"n\": 2}",
         1},
        {"{\"properties\": {\"n\": {\"minimum\": -1.5}}}", "{\"n\": -2}", 0},
        {"{\"properties\": {\"n\": {\"minimum\": -1e300}}}",
         "{\"n\": -9223372036854775808}", 1},
        {"{\"properties\": {\"n\": {\"maximum\": 9.3e18}}}",
         "{\"n\": 9223372036854775807}", 1},
        /* a real against an integer bound */
        {"{\"properties\": {\"n\": {\"minimum\": 9007199254740993}}}",
         "{\"n\": 9007199254740992.0}", 0},
        /* integers against integers, near the ends of int64 */
        {"{\"properties\": {\"n\": {\"maximum\": 9223372036854775806}}}",
         "{\"n\": 9223372036854775807}", 0},
        /* enum and const equality */
        {"{\"properties\": {\"n\": {\"enum\": [9007199254740993]}}}",
         "{\"n\": 9007199254740992.0}", 0},
        {"{\"properties\": {\"n\": {\"enum\": [9007199254740992]}}}",
         "{\"n\": 9007199254740992.0}", 1},
        {"{\"properties\": {\"n\": {\"const\": 9007199254740992.0}}}",
         "{\"n\": 9007199254740993}", 0},
        {"{\"properties\": {\"n\": {\"const\": 1}}}", "{\"n\": 1.0}", 1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL;
        int rc =
            tenon_config_validate(cases[i].schema, cases[i].config, &out, NULL);
        printf("%s with %s\n", cases[i].schema, cases[i].config);
        assert_int_equal(rc, cases[i].ok ? 0 : TENON_EINVAL);
        if (!cases[i].ok)
            assert_contains(tenon_last_error(), "at /n: expected ");
        free(out);
    }
}

static void not_json(void **state)
{
    tenon_t *t = open_cfg();
    const char *schema = cfg_schema(t);
    tenon_instance_t *inst = NULL;
    char *path = (char *)"unset";
    (void)state;

    assert_int_equal(tenon_config_validate(schema, "{\"file\": ", NULL, &path),
                     TENON_EINVAL);
    assert_null(path);
    assert_contains(tenon_last_error(), "config is not valid JSON: ");
    assert_contains(tenon_last_error(), " at line 1 column 9");
    /* a key given twice is ambiguous */
    assert_int_equal(tenon_create_config(t, "cfg",
                                         "{\"file\": \"a\", \"file\": \"b\"}",
                                         NULL, &inst),
                     TENON_EINVAL);
    assert_contains(tenon_last_error(),
                    "config of plugin 'cfg' is not valid JSON: ");
    assert_contains(tenon_last_error(), "duplicate object key");
    tenon_close(t);
}

/* ---- hostile schemas ----------------------------------------------------- */

/* `depth` schemas, each the "items" of the one around it. */
static char *nested_schema(size_t depth)
{
    static const char open[] = "{\"items\":", close[] = "}";
    size_t len = depth * (sizeof open - 1 + sizeof close - 1) + 3;
    char *s = malloc(len), *p = s;
    assert_non_null(s);
    for (size_t i = 0; i < depth; i++, p += sizeof open - 1)
        memcpy(p, open, sizeof open - 1);
    memcpy(p, "{}", 2), p += 2;
    for (size_t i = 0; i < depth; i++)
        *p++ = '}';
    *p = '\0';
    return s;
}

static void hostile_schemas(void **state)
{
    char *s, *out;
    (void)state;

    /* 10,000 deep: refused, not a stack overflow */
    s = nested_schema(10000);
    assert_int_equal(tenon_config_validate(s, "[]", &out, NULL), TENON_EINVAL);
    assert_contains(tenon_last_error(),
                    "the plugin's config schema is invalid: not JSON: ");
    free(s);
    /* deeper than the validator goes, though jansson parses it */
    s = nested_schema(100);
    assert_int_equal(tenon_config_validate(s, "[]", &out, NULL), TENON_EINVAL);
    /* the path, 64 levels of it, loses its start in the message */
    assert_contains(tenon_last_error(),
                    "the plugin's config schema is invalid: at .../items/");
    assert_contains(tenon_last_error(),
                    "/items/items: schemas nested more than 64 deep");
    free(s);
    /* just within */
    s = nested_schema(60);
    assert_int_equal(tenon_config_validate(s, "[[[1]]]", &out, NULL), 0);
    assert_string_equal(out, "[[[1]]]");
    free(out);
    free(s);

    /* keywords of the wrong type, and a default its schema refuses */
    static const char *const bad[][2] = {
        {"{\"type\": \"integr\"}", "at /type: expected a type name"},
        {"{\"type\": []}", "at /type: expected a type name"},
        {"{\"type\": [\"string\", \"string\"]}",
         "at /type: expected a type name"},
        {"{\"properties\": []}", "at /properties: expected an object of "
                                 "schemas, got an array"},
        {"{\"properties\": {\"a\": 5}}",
         "at /properties/a: expected a schema (an object or a boolean), got "
         "5"},
        {"{\"required\": [\"a\", 1]}",
         "at /required: expected an array of property names"},
        {"{\"enum\": []}", "at /enum: expected a non-empty array, got an "
                           "array"},
        {"{\"maximum\": \"10\"}", "at /maximum: expected a number, got "
                                  "\"10\""},
        {"{\"maxItems\": -1}", "at /maxItems: expected an integer >= 0, got "
                               "-1"},
        {"{\"items\": [{}]}",
         "at /items: expected a schema (an object or a boolean), got an "
         "array"},
        {"{\"additionalProperties\": \"no\"}",
         "at /additionalProperties: expected a schema"},
        {"{\"properties\": {\"m\": {\"enum\": [\"a\"], \"default\": \"b\"}}}",
         "at /properties/m: its default does not pass it: at \"\": expected "
         "\"a\", got \"b\""},
        {"7", "at \"\": expected a schema (an object or a boolean), got 7"},
        {"{\"a\": 1, \"a\": 2}", "not JSON: duplicate object key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        printf("schema %s\n", bad[i][0]);
        assert_int_equal(tenon_config_validate(bad[i][0], "{}", &out, NULL),
                         TENON_EINVAL);
        assert_contains(tenon_last_error(),
                        "the plugin's config schema is invalid: ");
        assert_contains(tenon_last_error(), bad[i][1]);
    }

    /* defaults that double at each level: 2^30 values, stopped by the
     * budget. Each level is an array whose default holds two objects, each
     * of which gets the next level as its default. */
    {
        size_t levels = 30;
        char *p;
        static const char head[] =
            "{\"type\":\"array\",\"default\":[{},{}],\"items\":{"
            "\"properties\":{\"x\":";
        s = malloc(levels * (sizeof head + 3) + 8);
        assert_non_null(s);
        p = s;
        for (size_t i = 0; i < levels; i++, p += sizeof head - 1)
            memcpy(p, head, sizeof head - 1);
        memcpy(p, "{}", 2), p += 2;
        for (size_t i = 0; i < levels; i++, p += 3)
            memcpy(p, "}}}", 3);
        *p = '\0';
        assert_int_equal(tenon_config_validate(s, NULL, &out, NULL),
                         TENON_EINVAL);
        assert_contains(tenon_last_error(), "the config with its defaults "
                                            "filled in has more than");
        free(s);
    }
    /* boolean schemas */
    assert_int_equal(tenon_config_validate("true", "{\"a\": [1]}", &out, NULL),
                     0);
    assert_string_equal(out, "{\"a\":[1]}");
    free(out);
    assert_int_equal(tenon_config_validate("{\"properties\": {\"a\": false}}",
                                           "{\"a\": 1}", &out, NULL),
                     TENON_EINVAL);
    assert_string_equal(tenon_last_error(),
                        "at /a: expected no value here, got 1");
}

static void broken_schema_plugins(void **state)
{
    tenon_t *t = open_cfg();
    tenon_instance_t *inst = NULL;
    const tenon_plugin_t *p;
    (void)state;

    assert_int_equal(tenon_create_config(t, "cfgbadtype", "{}", NULL, &inst),
                     TENON_EINVAL);
    assert_null(inst);
    assert_string_equal(tenon_last_error(),
                        "config of plugin 'cfgbadtype': the plugin's config "
                        "schema is invalid: at /properties/level/minimum: "
                        "expected a number, got \"1\"");
    /* no config at all is checked against the schema too */
    assert_int_equal(tenon_create(t, "cfgnotjson", NULL, &inst), TENON_EINVAL);
    assert_contains(tenon_last_error(),
                    "config of plugin 'cfgnotjson': the plugin's config "
                    "schema is invalid: not JSON: ");
    assert_int_equal(tenon_find(t, "cfgbadtype", &p), 0);
    assert_false(tenon_plugin_loaded(t, p));
    assert_int_equal(tenon_find(t, "cfgnotjson", &p), 0);
    assert_false(tenon_plugin_loaded(t, p));
    tenon_close(t);
}

/* ---- instances ----------------------------------------------------------- */

static void create_reads_config(void **state)
{
    tenon_t *t = open_cfg();
    tenon_instance_t *inst;
    const struct test_cfg *vt;
    void *obj;
    (void)state;

    assert_int_equal(tenon_create_config(t, "cfg",
                                         "{\"file\": \"x\", "
                                         "\"level\": 9}",
                                         NULL, &inst),
                     0);
    vt = cfg_vt(inst, &obj);
    /* what the plugin got through host->config() is what the host keeps */
    assert_string_equal(vt->config(obj), tenon_instance_config(inst));
    assert_contains(vt->config(obj), "\"level\":9");
    assert_contains(vt->config(obj), "\"mode\":\"fast\"");
    assert_int_equal(vt->level(obj), 9);
    tenon_destroy(inst);

    /* a value the schema allows but the plugin refuses: create() fails
     * with the plugin's own message */
    inst = NULL;
    assert_int_equal(
        tenon_create_config(t, "cfg", "{\"file\": \"reject\"}", NULL, &inst),
        TENON_EINVAL);
    assert_null(inst);
    assert_string_equal(tenon_last_error(),
                        "plugin 'cfg' failed to create an instance: file "
                        "'reject' is refused by the plugin (invalid "
                        "argument)");
    tenon_close(t);
}

static void set_config(void **state)
{
    tenon_t *t = open_cfg();
    tenon_instance_t *inst;
    const struct test_cfg *vt;
    char *before;
    void *obj;
    (void)state;

    assert_int_equal(
        tenon_create_config(t, "cfg", "{\"file\": \"x\"}", NULL, &inst), 0);
    vt = cfg_vt(inst, &obj);
    assert_int_equal(vt->level(obj), 3);

    /* valid: the plugin sees the new values, defaults filled in */
    assert_int_equal(tenon_set_config(inst, "{\"file\": \"y\", \"level\": 7, "
                                            "\"mode\": \"slow\"}"),
                     0);
    assert_int_equal(vt->level(obj), 7);
    assert_string_equal(vt->mode(obj), "slow");
    assert_string_equal(vt->config(obj), tenon_instance_config(inst));
    assert_contains(tenon_instance_config(inst), "\"limits\":{\"rate\":100");
    before = strdup(tenon_instance_config(inst));

    /* invalid: refused before the plugin sees it, the old config kept */
    assert_int_equal(tenon_set_config(inst, "{\"file\": \"y\", \"level\": 70}"),
                     TENON_EINVAL);
    assert_string_equal(tenon_last_error(),
                        "config of plugin 'cfg': at /level: expected an "
                        "integer <= 10, got 70");
    assert_string_equal(tenon_instance_config(inst), before);
    assert_int_equal(vt->level(obj), 7);
    assert_int_equal(tenon_set_config(inst, "not json"), TENON_EINVAL);
    assert_string_equal(tenon_instance_config(inst), before);

    /* valid for the schema, refused by the plugin: both keep the old */
    assert_int_equal(
        tenon_set_config(inst, "{\"file\": \"reject\", \"level\": 2}"),
        TENON_EINVAL);
    assert_string_equal(tenon_last_error(),
                        "plugin 'cfg' refused the config: file 'reject' is "
                        "refused by the plugin (invalid argument)");
    assert_string_equal(tenon_instance_config(inst), before);
    assert_string_equal(vt->config(obj), before);
    assert_int_equal(vt->level(obj), 7);
    free(before);
    tenon_destroy(inst);
    tenon_close(t);
}

static void no_config_interface(void **state)
{
    const char *dir = TEST_PLUGIN_DIR;
    tenon_t *t = open_scanned(&dir, 1);
    tenon_instance_t *inst;
    (void)state;

    /* no schema: the config is handed on as given */
    assert_int_equal(
        tenon_create_config(t, "basic", "{\"any\": [1, 2]}", NULL, &inst), 0);
    assert_string_equal(tenon_instance_config(inst), "{\"any\": [1, 2]}");
    assert_int_equal(tenon_set_config(inst, "{}"), TENON_ENOTSUP);
    assert_contains(tenon_last_error(), "does not provide tenon.config/1");
    assert_string_equal(tenon_instance_config(inst), "{\"any\": [1, 2]}");
    assert_int_equal(tenon_metrics(inst, NULL, NULL), TENON_ENOTSUP);
    assert_contains(tenon_last_error(), "does not provide tenon.metrics/1");
    tenon_destroy(inst);
    assert_int_equal(tenon_create(t, "basic", NULL, &inst), 0);
    assert_null(tenon_instance_config(inst));
    tenon_destroy(inst);
    tenon_close(t);
}

/* ---- metrics ------------------------------------------------------------- */

struct seen {
    int n, stop_at;
    char names[8][32];
    struct tenon_metric m[8];
};

static int collect(void *ud, const tenon_instance_t *inst,
                   const struct tenon_metric *m)
{
    struct seen *s = ud;
    assert_non_null(inst);
    assert_true(s->n < 8);
    snprintf(s->names[s->n], sizeof s->names[0], "%s", m->name);
    s->m[s->n++] = *m;
    return s->n == s->stop_at ? 42 : 0;
}

static void metrics(void **state)
{
    tenon_t *t = open_cfg();
    tenon_instance_t *inst;
    struct seen s = {0};
    (void)state;

    assert_int_equal(tenon_create_config(t, "cfg",
                                         "{\"file\": \"x\", "
                                         "\"level\": 4}",
                                         NULL, &inst),
                     0);
    assert_int_equal(tenon_metrics(inst, collect, &s), 0);
    /* the nameless one is skipped */
    assert_int_equal(s.n, 3);
    assert_string_equal(s.names[0], "cfg.configs");
    assert_int_equal(s.m[0].type, TENON_METRIC_COUNTER);
    assert_int_equal(s.m[0].value_type, TENON_METRIC_U64);
    assert_int_equal(s.m[0].value.u64, 1);
    assert_string_equal(s.names[1], "cfg.level");
    assert_int_equal(s.m[1].type, TENON_METRIC_GAUGE);
    assert_int_equal(s.m[1].value.s64, 4);
    assert_string_equal(s.names[2], "cfg.slow");
    assert_true(s.m[2].value.d == 0.0);

    /* the plugin changes them: the counter goes up, the gauges follow */
    assert_int_equal(tenon_set_config(inst, "{\"file\": \"x\", \"level\": 2, "
                                            "\"mode\": \"slow\"}"),
                     0);
    memset(&s, 0, sizeof s);
    assert_int_equal(tenon_metrics(inst, collect, &s), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.m[0].value.u64, 2);
    assert_int_equal(s.m[1].value.s64, 2);
    assert_true(s.m[2].value.d == 1.0);

    /* the callback stops the walk */
    memset(&s, 0, sizeof s);
    s.stop_at = 2;
    assert_int_equal(tenon_metrics(inst, collect, &s), 42);
    assert_int_equal(s.n, 2);
    tenon_destroy(inst);
    tenon_close(t);
}

/* A schema whose defaults multiply: 4 levels of `n`-element array
 * defaults, each element an object that gets the next level's default. */
static char *bomb_schema(int n)
{
    size_t cap = 4u * ((size_t)n * 4 + 200) + 100, len = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    len += (size_t)snprintf(s + len, cap - len, "{\"type\": \"object\"");
    for (int level = 0; level < 4; level++) {
        len += (size_t)snprintf(s + len, cap - len,
                                ", \"properties\": {\"l\": {\"type\": "
                                "\"array\", \"default\": [");
        for (int i = 0; i < n; i++)
            len += (size_t)snprintf(s + len, cap - len, "%s{}", i ? "," : "");
        len += (size_t)snprintf(s + len, cap - len,
                                "], \"items\": {\"type\": \"object\"");
    }
    for (int level = 0; level < 4; level++)
        len += (size_t)snprintf(s + len, cap - len, "}}}");
    snprintf(s + len, cap - len, "}");
    return s;
}

/* Checking a schema for display (tenon info) stops its defaults' expansion
 * early, and says so rather than calling the schema refused; a real
 * validation still spends the whole budget. */
static void schema_display_cap(void **state)
{
    char why[512], *small = bomb_schema(3), *big = bomb_schema(100);
    size_t saved = tenon__config_max_values;
    (void)state;

    assert_int_equal(tenon__config_schema_check(small, why, sizeof why), 0);
    assert_int_equal(tenon__config_schema_check(big, why, sizeof why),
                     TENON_ERANGE);
    assert_contains(why, "more than 65536 values, beyond what is checked for "
                         "display; creating an instance checks up to 4194304");
    /* what is wrong otherwise is still a refusal */
    assert_int_equal(
        tenon__config_schema_check("{\"type\": 5}", why, sizeof why),
        TENON_EINVAL);
    /* a real validation with a smaller budget: refused, not ERANGE */
    tenon__config_max_values = 100000;
    assert_int_equal(tenon_config_validate(big, "{}", NULL, NULL),
                     TENON_EINVAL);
    assert_contains(tenon_last_error(), "has more than 100000 values");
    /* below the display cap, display checks as much as validation does */
    tenon__config_max_values = 1000;
    assert_int_equal(tenon__config_schema_check(big, why, sizeof why),
                     TENON_EINVAL);
    assert_contains(why, "more than 1000 values");
    tenon__config_max_values = saved;
    free(small);
    free(big);
}

/* ---- tenon info ---------------------------------------------------------- */

static void info_shows_schema(void **state)
{
    struct run r;
    json_t *o, *schema;
    (void)state;

    RUN(&r, "info", "--no-cache", "--plugin-path", TEST_CFG_DIR, "cfg");
    assert_status(&r, 0);
    assert_contains(r.out, "config schema:\n  {\n    \"type\": \"object\",\n");
    assert_contains(r.out, "\n        \"enum\": [\n          \"fast\",\n");
    /* not repeated as other info */
    assert_true(strstr(r.out, "config.schema=") == NULL);
    run_free(&r);

    RUN(&r, "info", "--no-cache", "--json", "--plugin-path", TEST_CFG_DIR,
        "cfg");
    assert_status(&r, 0);
    o = parse_json(r.out);
    schema = json_object_get(o, "config_schema");
    assert_true(json_is_object(schema));
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(schema, "properties"), "mode"),
            "default")),
        "fast");
    assert_null(json_object_get(o, "config_schema_error"));
    json_decref(o);
    run_free(&r);

    /* a schema the host refuses is shown with the reason */
    RUN(&r, "info", "--no-cache", "--plugin-path", TEST_CFG_DIR, "cfgbadtype");
    assert_status(&r, 0);
    assert_contains(r.out, "config schema: (refused: the plugin's config "
                           "schema is invalid: at /properties/level/minimum: "
                           "expected a number, got \"1\")\n");
    run_free(&r);
    RUN(&r, "info", "--no-cache", "--json", "--plugin-path", TEST_CFG_DIR,
        "cfgnotjson");
    assert_status(&r, 0);
    o = parse_json(r.out);
    assert_true(json_is_null(json_object_get(o, "config_schema")));
    assert_non_null(
        strstr(json_string_value(json_object_get(o, "config_schema_error")),
               "not JSON"));
    json_decref(o);
    run_free(&r);

    /* a plugin without a schema */
    RUN(&r, "info", "--no-cache", "--json", "--plugin-path", TEST_PLUGIN_DIR,
        "basic");
    assert_status(&r, 0);
    o = parse_json(r.out);
    assert_true(json_is_null(json_object_get(o, "config_schema")));
    json_decref(o);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_filled),
        cmocka_unit_test(schema_violations),
        cmocka_unit_test(number_precision),
        cmocka_unit_test(big_numbers_exact),
        cmocka_unit_test(schema_display_cap),
        cmocka_unit_test(not_json),
        cmocka_unit_test(hostile_schemas),
        cmocka_unit_test(broken_schema_plugins),
        cmocka_unit_test(create_reads_config),
        cmocka_unit_test(set_config),
        cmocka_unit_test(no_config_interface),
        cmocka_unit_test(metrics),
        cmocka_unit_test(info_shows_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
