// test_core.cpp - the core every stage stands on: the JSON reader (against documents the
// writer produced and against hand-written RFC 8259 text), where an error happened
// (mp_place, which decides the exit code), and reading small files.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

extern "C" {
#include "mriprep/error.h"
#include "mriprep/fs.h"
#include "mriprep/json.h"
}

namespace {

json_value_t *parse(const std::string &text, mp_status *st = nullptr, mp_error *err_out = nullptr)
{
    json_value_t *v = nullptr;
    mp_error err;
    mp_error_clear(&err);
    mp_status s = json_parse(text.data(), text.size(), "t.json", &v, &err);
    if (st) *st = s;
    if (err_out) *err_out = err;
    return v;
}

}  // namespace

TEST(JsonRead, ReadsBackWhatTheWriterWrote)
{
    json_writer_t j;
    json_init(&j);
    json_object_begin(&j, nullptr);
    json_string(&j, "fingerprint", "size=256x256 dark=0.01");
    json_string(&j, "odd", "tab\t \"quote\" back\\slash\nnew\x01");
    json_object_begin(&j, "totals");
    json_uint(&j, "bytes_written", 18446744073709551615ull);
    json_int(&j, "negative", -42);
    json_double(&j, "x", 0.1);
    json_object_end(&j);
    json_array_begin(&j, "modalities");
    json_string(&j, nullptr, "FLAIR");
    json_string(&j, nullptr, "T1w");
    json_array_end(&j);
    json_null(&j, "none");
    json_bool(&j, "yes", 1);
    json_object_end(&j);
    ASSERT_FALSE(j.failed);
    mp_status st;
    json_value_t *v = parse(j.text, &st);
    json_free(&j);
    ASSERT_EQ(st, MP_OK);
    EXPECT_STREQ(json_find_string(v, "fingerprint", ""), "size=256x256 dark=0.01");
    EXPECT_STREQ(json_find_string(v, "odd", ""), "tab\t \"quote\" back\\slash\nnew\x01");
    EXPECT_EQ(json_find_number(v, "totals.bytes_written", 0), 18446744073709551615.0);
    EXPECT_EQ(json_find_number(v, "totals.negative", 0), -42.0);
    EXPECT_EQ(json_find_number(v, "totals.x", 0), 0.1);
    const json_value_t *mods = json_find(v, "modalities");
    ASSERT_NE(mods, nullptr);
    ASSERT_EQ(mods->type, JSON_ARRAY);
    ASSERT_EQ(mods->n, 2u);
    EXPECT_STREQ(mods->items[1].string, "T1w");
    EXPECT_EQ(json_find(v, "none")->type, JSON_NULL);
    EXPECT_EQ(json_find(v, "yes")->type, JSON_TRUE);
    EXPECT_EQ(json_find(v, "totals.missing"), nullptr);
    EXPECT_EQ(json_find(v, "fingerprint.deeper"), nullptr);
    EXPECT_STREQ(json_find_string(v, "totals.x", "fallback"), "fallback") << "a number is not a string";
    json_value_free(v);
}

TEST(JsonRead, UnicodeEscapesBecomeUtf8)
{
    json_value_t *v = parse(R"({"a": "\u00e9\u20ac\ud83d\ude00\/"})");
    ASSERT_NE(v, nullptr);
    EXPECT_STREQ(json_find_string(v, "a", ""), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80/");
    json_value_free(v);
}

// A file name that is not UTF-8 (a byte 0xff, a truncated sequence, an encoded surrogate)
// is written as \udcXX escapes, valid JSON, and read back as the same bytes.
TEST(JsonRead, BytesThatAreNotUtf8RoundTripAsSurrogateEscapes)
{
    struct Case {
        const char *name;
        bool ascii_json; // every byte not UTF-8: the JSON text is all ASCII
    } cases[] = {{"bad\xffname", true}, {"cut\xc3", true}, {"surrogate\xed\xa0\x80", true},
                 {"overlong\xc0\xaf", true}, {"ok \xc3\xa9 \xf0\x9f\x98\x80", false}};
    for (const Case &c : cases) {
        json_writer_t j;
        json_init(&j);
        json_object_begin(&j, nullptr);
        json_string(&j, "data", c.name);
        json_object_end(&j);
        ASSERT_FALSE(j.failed);
        bool ascii = true;
        for (const char *p = j.text; *p; p++) ascii = ascii && (unsigned char)*p < 0x80;
        EXPECT_EQ(ascii, c.ascii_json) << j.text;
        json_value_t *v = parse(j.text);
        json_free(&j);
        ASSERT_NE(v, nullptr) << c.name;
        EXPECT_STREQ(json_find_string(v, "data", ""), c.name);
        json_value_free(v);
    }
}

TEST(JsonRead, RefusesWhatIsNotJsonNamingTheFileAndLine)
{
    const char *bad[] = {"",         "{",          "{\"a\": }",      "{\"a\" 1}",      "[1, 2,]",
                         "{\"a\": 1} x", "nan",      "{\"a\": 0x10}",  "{\"a\": +1}",    "\"\\ud800\"",
                         "\"a\nb\"", "{\"a\": tru}", "\"unterminated", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"};
    for (const char *text : bad) {
        mp_status st;
        mp_error err;
        json_value_t *v = parse(std::string("\n") + text, &st, &err);
        EXPECT_EQ(st, MP_ERR_FORMAT) << text;
        EXPECT_EQ(v, nullptr) << text;
        EXPECT_EQ(std::string(err.msg).rfind("t.json: not JSON: ", 0), 0u) << err.msg;
        EXPECT_NE(std::string(err.msg).find("line 2"), std::string::npos) << text << ": " << err.msg;
    }
}

TEST(ErrorPlace, FollowsTheKindOrTheStepThatSaysIt)
{
    mp_error err;
    mp_error_clear(&err);
    EXPECT_EQ(err.place, MP_PLACE_NONE);
    mp_fail(&err, MP_ERR_USAGE, "x");
    EXPECT_EQ(err.place, MP_PLACE_USAGE);
    mp_fail(&err, MP_ERR_WRITE, "x");
    EXPECT_EQ(err.place, MP_PLACE_OUT);
    // A read error says nothing of where until the step that knows says it; the first
    // place said stays (the innermost step knows best).
    EXPECT_EQ(mp_at(&err, MP_PLACE_DATA, mp_fail(&err, MP_ERR_IO, "x")), MP_ERR_IO);
    EXPECT_EQ(err.place, MP_PLACE_DATA);
    mp_at(&err, MP_PLACE_OUT, MP_ERR_IO);
    EXPECT_EQ(err.place, MP_PLACE_DATA);
    mp_fail(&err, MP_ERR_IO, "fresh");
    EXPECT_EQ(err.place, MP_PLACE_NONE) << "a new error starts without a place";
    EXPECT_EQ(mp_at(&err, MP_PLACE_LABELS, MP_OK), MP_OK);
    EXPECT_EQ(err.place, MP_PLACE_NONE) << "success says nothing";
}

TEST(TextRead, MissingIsNotAnErrorWhenAskedAndLimitsAreKept)
{
    char dir[] = "/tmp/mriprep-core-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string path = std::string(dir) + "/f.txt";
    mp_error err;
    mp_error_clear(&err);
    size_t len = 0;
    int missing = 0;
    EXPECT_EQ(text_read(path.c_str(), 0, &len, &missing, &err), nullptr);
    EXPECT_EQ(missing, 1);
    EXPECT_EQ(err.code, MP_OK) << "a missing file asked for as optional is no error";
    EXPECT_EQ(text_read(path.c_str(), 0, &len, nullptr, &err), nullptr);
    EXPECT_EQ(err.code, MP_ERR_IO);
    EXPECT_NE(std::string(err.msg).find(path), std::string::npos) << err.msg;
    std::string big(300000, 'x');
    ASSERT_EQ(text_write_atomic(path.c_str(), big.data(), big.size(), &err), MP_OK) << err.msg;
    char *text = text_read(path.c_str(), 0, &len, &missing, &err);
    ASSERT_NE(text, nullptr);
    EXPECT_EQ(len, big.size());
    EXPECT_EQ(std::string(text, len), big);
    free(text);
    EXPECT_EQ(text_read(path.c_str(), 100000, &len, &missing, &err), nullptr);
    EXPECT_EQ(err.code, MP_ERR_LIMIT) << err.msg;
    unlink(path.c_str());
    rmdir(dir);
}
