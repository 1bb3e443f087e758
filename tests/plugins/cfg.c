/* "cfg": a plugin with a config schema (nested objects, required, enum,
 * ranges, items, additionalProperties false, defaults), tenon.config/1 and
 * tenon.metrics/1. It reads its config with jansson, as a plugin may, and
 * refuses the file "reject" both in create() and in set_config(), so that
 * plugin-side failures show beside the host's validation.
 *
 * Built as other plugins too (CFG_KIND): 1 "cfgbadtype", whose schema has
 * a keyword of the wrong type, and 2 "cfgnotjson", whose schema is not
 * JSON. */
#include <tenon/event.h>
#include <tenon/plugin.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cfgapi.h"

#ifndef CFG_KIND
#define CFG_KIND 0
#endif

#if CFG_KIND == 0
#define CFG_NAME "cfg"
#define CFG_SCHEMA                                                             \
    "{\"type\": \"object\", \"title\": \"cfg test plugin\",\n"                 \
    " \"properties\": {\n"                                                     \
    "  \"file\": {\"type\": \"string\", \"minLength\": 1,\n"                   \
    "            \"description\": \"what to read\"},\n"                        \
    "  \"mode\": {\"enum\": [\"fast\", \"slow\"], \"default\": \"fast\"},\n"   \
    "  \"level\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 10,\n"  \
    "             \"default\": 3},\n"                                          \
    "  \"ratio\": {\"type\": \"number\", \"exclusiveMinimum\": 0,\n"           \
    "             \"exclusiveMaximum\": 1, \"default\": 0.5},\n"               \
    "  \"tags\": {\"type\": \"array\", \"maxItems\": 3, \"default\": "         \
    "[\"a\"],\n"                                                               \
    "            \"items\": {\"type\": \"string\", \"maxLength\": 8}},\n"      \
    "  \"limits\": {\"type\": \"object\", \"default\": {},\n"                  \
    "    \"properties\": {\n"                                                  \
    "      \"rate\": {\"type\": \"integer\", \"minimum\": 0, \"default\": "    \
    "100},\n"                                                                  \
    "      \"burst\": {\"type\": \"integer\", \"minimum\": 1, \"default\": "   \
    "10}},\n"                                                                  \
    "    \"required\": [\"rate\"], \"additionalProperties\": false},\n"        \
    "  \"a/b~c\": {\"type\": \"boolean\"},\n"                                  \
    "  \"labels\": {\"type\": \"object\",\n"                                   \
    "              \"additionalProperties\": {\"type\": \"string\"}},\n"       \
    "  \"note\": {\"type\": [\"string\", \"null\"]},\n"                        \
    "  \"version\": {\"const\": 1},\n"                                         \
    "  \"prefix\": {\"type\": \"string\", \"pattern\": \"^x\"}},\n"            \
    " \"required\": [\"file\"],\n"                                             \
    " \"additionalProperties\": false}"
#elif CFG_KIND == 1
#define CFG_NAME "cfgbadtype"
#define CFG_SCHEMA                                                             \
    "{\"type\": \"object\", \"properties\": {\"level\": {\"type\": "           \
    "\"integer\", \"minimum\": \"1\"}}}"
#else
#define CFG_NAME   "cfgnotjson"
#define CFG_SCHEMA "{\"type\": \"object\", \"properties\": {"
#endif

TENON_PLUGIN_INFO(CFG_NAME, "1.0.0",
    TENON_DESCRIPTION("Test plugin with a config schema")
    TENON_LICENSE("MIT")
    TENON_PROVIDES(TEST_CFG_ID)
    TENON_PROVIDES(TENON_CONFIG_ID)
    TENON_PROVIDES(TENON_METRICS_ID)
    TENON_CONFIG_SCHEMA(CFG_SCHEMA));

struct cfg {
    const struct tenon_host *host;
    struct tenon_instance *self;
    char *text; /* the config as last taken */
    int64_t level;
    char mode[16];
    uint64_t configs; /* configs taken */
    struct tenon_metric metrics[4];
};

/* Read `json` into the plugin's state, or leave it alone and fail. */
static int take(struct cfg *c, const char *json)
{
    json_t *root = json_loads(json, 0, NULL), *mode;
    const char *file;
    char *text;

    if (!root) {
        c->host->set_error(c->self, "config is not JSON: %s", json);
        return TENON_EINVAL;
    }
    file = json_string_value(json_object_get(root, "file"));
    mode = json_object_get(root, "mode");
    if (!file || strcmp(file, "reject") == 0 || !json_is_string(mode) ||
        !json_is_integer(json_object_get(root, "level"))) {
        c->host->set_error(c->self, "file '%s' is refused by the plugin",
                           file ? file : "(none)");
        json_decref(root);
        return TENON_EINVAL;
    }
    if (!(text = strdup(json))) {
        json_decref(root);
        return TENON_ENOMEM;
    }
    free(c->text);
    c->text = text;
    c->level = json_integer_value(json_object_get(root, "level"));
    strncpy(c->mode, json_string_value(mode), sizeof c->mode - 1);
    c->configs++;
    json_decref(root);
    return 0;
}

static int set_config(void *obj, const char *json) { return take(obj, json); }

static const struct tenon_metric *metrics(void *obj, uint32_t *n)
{
    struct cfg *c = obj;
    struct tenon_metric *m = c->metrics;
    memset(m, 0, sizeof c->metrics);
    m[0].name = "cfg.configs";
    m[0].type = TENON_METRIC_COUNTER;
    m[0].value_type = TENON_METRIC_U64;
    m[0].value.u64 = c->configs;
    m[1].name = "cfg.level";
    m[1].type = TENON_METRIC_GAUGE;
    m[1].value_type = TENON_METRIC_S64;
    m[1].value.s64 = c->level;
    /* m[2] is nameless: the host skips it */
    m[2].type = TENON_METRIC_GAUGE;
    m[2].value_type = TENON_METRIC_S64;
    m[3].name = "cfg.slow";
    m[3].type = TENON_METRIC_GAUGE;
    m[3].value_type = TENON_METRIC_D;
    m[3].value.d = strcmp(c->mode, "slow") == 0 ? 1.0 : 0.0;
    *n = 4;
    return m;
}

static const char *config(void *obj) { return ((struct cfg *)obj)->text; }
static int64_t level(void *obj) { return ((struct cfg *)obj)->level; }
static const char *mode(void *obj) { return ((struct cfg *)obj)->mode; }

static const struct test_cfg test_vt = {sizeof test_vt, config, level, mode};
static const struct tenon_config_v1 config_vt = {sizeof config_vt, set_config};
static const struct tenon_metrics_v1 metrics_vt = {sizeof metrics_vt, metrics};

static int create(const struct tenon_host *host, struct tenon_instance *self,
                  const struct tenon_args *args, struct tenon_instance *input,
                  void **obj)
{
    struct cfg *c;
    const char *json;
    int rc;

    (void)args;
    (void)input;
    if (!TENON_HOST_HAS(host, config) || !(json = host->config(self))) {
        host->set_error(self, "this host gives no config");
        return TENON_ENOTSUP;
    }
    if (!(c = calloc(1, sizeof *c)))
        return TENON_ENOMEM;
    c->host = host;
    c->self = self;
    if ((rc = take(c, json))) {
        free(c);
        return rc;
    }
    *obj = c;
    return 0;
}

static void destroy(void *obj)
{
    struct cfg *c = obj;
    free(c->text);
    free(c);
}

static const void *get_interface(void *obj, const char *id)
{
    (void)obj;
    if (strcmp(id, TEST_CFG_ID) == 0)
        return &test_vt;
    if (strcmp(id, TENON_CONFIG_ID) == 0)
        return &config_vt;
    if (strcmp(id, TENON_METRICS_ID) == 0)
        return &metrics_vt;
    return NULL;
}

TENON_PLUGIN_ENTRY(create, destroy, get_interface, NULL);
