//! A strict checker for the Prometheus text exposition format as this
//! exporter writes it. The tests validate every exposition they produce
//! with it, and the `exposition` fuzz target checks renderings of arbitrary
//! status files.

use std::collections::HashSet;

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Metric name.
    pub name: String,
    /// Labels in written order, values unescaped.
    pub labels: Vec<(String, String)>,
    /// Sample value.
    pub value: f64,
}

impl Sample {
    /// The value of label `k`, if present.
    pub fn label(&self, k: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// A validated exposition.
#[derive(Debug)]
pub struct Expo {
    /// Every sample, in written order.
    pub samples: Vec<Sample>,
    /// Family name and type, in order.
    pub families: Vec<(String, String)>,
}

impl Expo {
    /// The value of the series with exactly these labels (any order).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        want.sort();
        self.samples
            .iter()
            .find(|s| {
                let mut l = s.labels.clone();
                l.sort();
                s.name == name && l == want
            })
            .map(|s| s.value)
    }

    /// Every sample of a family.
    pub fn all(&self, name: &str) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.name == name).collect()
    }

    /// Whether a family of this name was declared.
    pub fn has_family(&self, name: &str) -> bool {
        self.families.iter().any(|(n, _)| n == name)
    }
}

fn valid_metric_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !n.starts_with("__")
}

/// Parses `{k="v",...}` at the start of `s`; returns labels and the rest.
type Labels = Vec<(String, String)>;

fn parse_labels(s: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    let mut rest = s.strip_prefix('{').ok_or("expected {")?;
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        if !labels.is_empty() {
            rest = rest.strip_prefix(',').ok_or("expected , between labels")?;
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = &rest[..eq];
        if !valid_label_name(name) {
            return Err(format!("invalid label name {name:?}"));
        }
        if labels.iter().any(|(n, _)| n == name) {
            return Err(format!("label {name:?} repeated"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            let (i, c) = chars.next().ok_or("unterminated label value")?;
            match c {
                '"' => break i,
                '\\' => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                '\n' => return Err("raw newline in label value".into()),
                c => value.push(c),
            }
        };
        labels.push((name.to_owned(), value));
        rest = &rest[end + 1..];
    }
}

fn parse_value(v: &str) -> Result<f64, String> {
    match v {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ if v.is_empty()
            || v.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') =>
        {
            Err(format!("invalid value {v:?}"))
        }
        _ => v.parse().map_err(|_| format!("invalid value {v:?}")),
    }
}

/// Strict check of the Prometheus text format as this exporter writes it:
/// every family has exactly one HELP then one TYPE before its samples,
/// families are contiguous and never repeat, sample names belong to the
/// current family, names and label names are valid, label values are
/// correctly escaped, values are floats, no series repeats, counters end in
/// `_total`, and the text ends with a newline.
///
/// # Errors
///
/// The first violation, with its line number and the line.
pub fn validate(text: &str) -> Result<Expo, String> {
    let mut samples = Vec::new();
    let mut families: Vec<(String, String)> = Vec::new();
    let mut series = HashSet::new();
    let mut help_for: Option<String> = None;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("does not end with a newline".into());
    }
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest
                .split_once(' ')
                .ok_or_else(|| at("HELP without text".into()))?;
            if !valid_metric_name(name) {
                return Err(at("invalid family name".into()));
            }
            if families.iter().any(|(f, _)| f == name) || help_for.as_deref() == Some(name) {
                return Err(at(format!("family {name} repeated or not contiguous")));
            }
            if help.contains('\\') && !help.contains("\\\\") && !help.contains("\\n") {
                return Err(at("bad escape in HELP".into()));
            }
            help_for = Some(name.to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| at("TYPE without type".into()))?;
            if help_for.as_deref() != Some(name) {
                return Err(at("TYPE not right after its HELP".into()));
            }
            if !["counter", "gauge", "untyped"].contains(&kind) {
                return Err(at(format!("unexpected type {kind}")));
            }
            if kind == "counter" && !name.ends_with("_total") {
                return Err(at("counter name without _total".into()));
            }
            help_for = None;
            families.push((name.to_owned(), kind.to_owned()));
        } else if line.starts_with('#') {
            return Err(at("unexpected comment".into()));
        } else if line.is_empty() {
            return Err(at("empty line".into()));
        } else {
            if help_for.is_some() {
                return Err(at("sample between HELP and TYPE".into()));
            }
            let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
            let name = &line[..name_end];
            let Some((family, _)) = families.last() else {
                return Err(at("sample before any TYPE".into()));
            };
            if name != family {
                return Err(at(format!("sample outside its family {family}")));
            }
            let rest = &line[name_end..];
            let (labels, rest) = if rest.starts_with('{') {
                parse_labels(rest).map_err(at)?
            } else {
                (Vec::new(), rest)
            };
            let value = rest
                .strip_prefix(' ')
                .ok_or_else(|| at("no space before value".into()))?;
            if value.contains(' ') {
                return Err(at("unexpected timestamp or trailing text".into()));
            }
            let value = parse_value(value).map_err(at)?;
            let mut key = labels.clone();
            key.sort();
            if !series.insert((name.to_owned(), key)) {
                return Err(at("duplicate series".into()));
            }
            samples.push(Sample {
                name: name.to_owned(),
                labels,
                value,
            });
        }
    }
    if help_for.is_some() {
        return Err("HELP without TYPE at the end".into());
    }
    Ok(Expo { samples, families })
}
