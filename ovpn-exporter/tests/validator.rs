//! The exposition validator must reject what Prometheus would reject (or
//! what this exporter promises never to write); otherwise the other tests
//! prove nothing.

mod common;

use common::validate;

const GOOD: &str = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\\\\\\n\"} 3\na_total{x=\"2\"} 4.5e3\n\
# HELP b B.\n# TYPE b gauge\nb NaN\nb{z=\"\"} +Inf\n";

#[test]
fn accepts_good_exposition_and_decodes_labels() {
    let e = validate(GOOD).unwrap();
    assert_eq!(e.samples.len(), 4);
    assert_eq!(e.get("a_total", &[("y", "q\"\\\n"), ("x", "1")]), Some(3.0));
    assert_eq!(e.get("a_total", &[("x", "2")]), Some(4500.0));
    assert!(e.has_family("b"));
}

#[test]
fn rejects_bad_expositions() {
    let cases: &[(&str, &str)] = &[
        (
            "dup series",
            "# HELP a A.\n# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n",
        ),
        (
            "dup series, label order",
            "# HELP a A.\n# TYPE a gauge\na{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 2\n",
        ),
        (
            "not contiguous",
            "# HELP a A.\n# TYPE a gauge\na 1\n# HELP b B.\n# TYPE b gauge\nb 1\n# HELP a A.\n# TYPE a gauge\na{x=\"1\"} 1\n",
        ),
        ("no TYPE", "# HELP a A.\na 1\n"),
        ("no HELP", "# TYPE a gauge\na 1\n"),
        (
            "sample of another family",
            "# HELP a A.\n# TYPE a gauge\nb 1\n",
        ),
        (
            "bad escape",
            "# HELP a A.\n# TYPE a gauge\na{x=\"\\t\"} 1\n",
        ),
        (
            "unescaped quote",
            "# HELP a A.\n# TYPE a gauge\na{x=\"a\"b\"} 1\n",
        ),
        ("bad name", "# HELP 1a A.\n# TYPE 1a gauge\n1a 1\n"),
        (
            "bad label name",
            "# HELP a A.\n# TYPE a gauge\na{x-y=\"1\"} 1\n",
        ),
        ("bad value", "# HELP a A.\n# TYPE a gauge\na abc\n"),
        ("empty value", "# HELP a A.\n# TYPE a gauge\na \n"),
        ("counter name", "# HELP a A.\n# TYPE a counter\na 1\n"),
        ("no final newline", "# HELP a A.\n# TYPE a gauge\na 1"),
        (
            "repeated label",
            "# HELP a A.\n# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n",
        ),
        ("unterminated", "# HELP a A.\n# TYPE a gauge\na{x=\"1} 1\n"),
        (
            "stray comment",
            "# HELP a A.\n# TYPE a gauge\n# hello\na 1\n",
        ),
    ];
    for (what, text) in cases {
        assert!(validate(text).is_err(), "accepted ({what}): {text:?}");
    }
}
