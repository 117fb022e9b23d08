/*
 * ortak screen (src/cli/screen.c): exit codes 0 (no hit), 1 (a hit), 2 (an error, with a message on stderr); the
 * JSON lines parsed with jansson; --list with the UN and OFAC files; lists and threshold from DIR/ortakd.ini.
 *
 * Usage: test_screening_cli PATH-TO-shared/data PATH-TO-ortak
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "unit/test_cli.h"

static const char *data_dir, *ortak_bin;
static char tmp_dir[512], un_path[1024], ofac_path[1024];

static void run(struct tu_run *r, const char *const *args) { tu_run(r, ortak_bin, args, NULL, tmp_dir); }

static void test_exit_codes(void **state) {
    (void)state;
    struct tu_run r;
    run(&r, (const char *const[]){"screen", "--list", un_path, "Rustam Karimov", "Aigerim Sadykova", NULL});
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "Rustam Karimov: no hit"));
    assert_non_null(strstr(r.out, "# lists: UN (un-xml"));
    tu_run_free(&r);
    run(&r, (const char *const[]){"screen", "--list", un_path, "Rustam Karimov", "Доку Умаров", NULL});
    assert_int_equal(r.code, 1);
    assert_non_null(strstr(r.out, "QDi.290"));
    tu_run_free(&r);
    run(&r, (const char *const[]){"screen", "--list", un_path, NULL});
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "no NAME"));
    tu_run_free(&r);
    run(&r, (const char *const[]){"screen", "--bogus", "x", NULL});
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "unknown option --bogus"));
    tu_run_free(&r);
    run(&r, (const char *const[]){"screen", "--threshold", "1.5", "x", NULL});
    assert_int_equal(r.code, 2);
    tu_run_free(&r);
    run(&r, (const char *const[]){"screen", "--threshold", "0.85555", "x", NULL});
    assert_int_equal(r.code, 2);
    tu_run_free(&r);
    run(&r, (const char *const[]){"screen", "--help", NULL});
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "usage: ortak screen"));
    tu_run_free(&r);
}

static void test_json(void **state) {
    (void)state;
    struct tu_run r;
    run(&r, (const char *const[]){"screen", "--json", "--list", un_path, "--list", ofac_path, "Eric Badege",
                                  "Elvis Logan Morey", "Zeynep Yılmaz", "quote \" and \\ back", NULL});
    assert_int_equal(r.code, 1);
    static const char *const queries[] = {"Eric Badege", "Elvis Logan Morey", "Zeynep Yılmaz", "quote \" and \\ back"};
    static const char *const lists[] = {"UN", "OFAC", NULL, NULL};
    static const char *const ids[] = {"CDi.001", "10278", NULL, NULL};
    char *line = r.out;
    for (size_t i = 0; i < 4; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (!o) fail_msg("line %zu is not JSON: %s (%s)", i + 1, je.text, line);
        assert_true(json_is_object(o));
        assert_int_equal(json_object_size(o), 2);
        assert_string_equal(json_string_value(json_object_get(o, "query")), queries[i]);
        json_t *hits = json_object_get(o, "hits");
        assert_true(json_is_array(hits));
        if (!lists[i]) {
            assert_int_equal(json_array_size(hits), 0);
        } else {
            assert_true(json_array_size(hits) >= 1);
            json_t *h = json_array_get(hits, 0);
            assert_int_equal(json_object_size(h), 4);
            assert_string_equal(json_string_value(json_object_get(h, "list")), lists[i]);
            assert_string_equal(json_string_value(json_object_get(h, "entry_id")), ids[i]);
            assert_true(json_is_string(json_object_get(h, "name")));
            json_t *sc = json_object_get(h, "score");
            assert_true(json_is_real(sc));
            assert_true(json_real_value(sc) >= 0.85 && json_real_value(sc) <= 1.0);
        }
        json_decref(o);
        line = nl + 1;
    }
    assert_string_equal(line, "");
    assert_non_null(strstr(r.out, "\"score\": 1.0000}")); /* four decimals from the integer */
    tu_run_free(&r);
}

static void test_bad_list(void **state) {
    (void)state;
    char bad[1024];
    snprintf(bad, sizeof bad, "%s/bad.csv", tmp_dir);
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fputs("entry_id,name,aliases,date_of_birth,nationality\nX-1,Name\n", f);
    fclose(f);
    struct tu_run r;
    run(&r, (const char *const[]){"screen", "--list", bad, "Eric Badege", NULL});
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "bad.csv: line 2: expected 5 fields, found 2"));
    assert_string_equal(r.out, "");
    tu_run_free(&r);
    run(&r, (const char *const[]){"screen", "--list", "/nonexistent/list.xml", "Eric Badege", NULL});
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "/nonexistent/list.xml"));
    tu_run_free(&r);
    unlink(bad);
}

/* Without --list: [screening] lists and threshold of DIR/ortakd.ini. */
static void test_data_dir(void **state) {
    (void)state;
    char dir[1024], ini[1200], local[1200];
    snprintf(dir, sizeof dir, "%s/data", tmp_dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(local, sizeof local, "%s/local.csv", dir);
    FILE *f = fopen(local, "w");
    assert_non_null(f);
    fputs("# list: NBKR\nentry_id,name,aliases,date_of_birth,nationality\nKG-1,Testov Test Testovich,,,KG\n", f);
    fclose(f);
    snprintf(ini, sizeof ini, "%s/ortakd.ini", dir);
    f = fopen(ini, "w");
    assert_non_null(f);
    fprintf(f, "[server]\nlisten = 127.0.0.1:8443\n\n[screening]\nlists = %s, %s\nthreshold = 0.90\n", local,
            ofac_path);
    fclose(f);
    struct tu_run r;
    run(&r, (const char *const[]){"screen", "--dir", dir, "--verbose", "Test Testov", "Eric Badege", NULL});
    assert_int_equal(r.code, 1);
    assert_non_null(strstr(r.out, "NBKR"));
    assert_non_null(strstr(r.out, "KG-1"));
    assert_non_null(strstr(r.out, "threshold 0.9000"));
    assert_non_null(strstr(r.out, "Eric Badege: no hit")); /* the UN list is not configured */
    assert_non_null(strstr(r.err, "lists from"));
    tu_run_free(&r);
    unlink(local);
    run(&r, (const char *const[]){"screen", "--dir", dir, "Test Testov", NULL});
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "local.csv"));
    tu_run_free(&r);
    unlink(ini);
    rmdir(dir);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_screening_cli PATH-TO-shared/data PATH-TO-ortak\n");
        return 2;
    }
    data_dir = argv[1];
    ortak_bin = argv[2];
    snprintf(un_path, sizeof un_path, "%s/sanctions/UN_consolidated.xml", data_dir);
    snprintf(ofac_path, sizeof ofac_path, "%s/sanctions/ofac/sdn.csv", data_dir);
    if (!tu_mkdtemp(tmp_dir, sizeof tmp_dir, "ortak-screen-cli")) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_bad_list),
        cmocka_unit_test(test_data_dir),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    tu_remove_dir(tmp_dir, (const char *const[]){"stdout", "stderr", "bad.csv", NULL});
    return failed ? 1 : 0;
}
