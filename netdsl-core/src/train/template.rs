//! The file-name template of [`super::checkpoint::ModelCheckpoint`]: the part of Python's
//! `str.format` that Keras documents for `ModelCheckpoint(filepath=...)`.
//!
//! A template is literal text with fields `{name}` or `{name:spec}`, and `{{` / `}}` for literal
//! braces. The names are the values `fit` logs: `epoch` and `batch` (integers, from 1), `loss`,
//! `accuracy`, `val_loss`, `val_accuracy` and `learning_rate` (floats), and any other name
//! of letters, digits and `_` is a metric's key (`auc`, `val_auc`: floats), which only the fit
//! can tell logged or not. A spec is
//! `[0][width][.precision][type]`, the type `d` (an integer) or `f` (fixed point, 6 digits
//! unless a precision is given): `{epoch:02d}` is `05`, `{val_loss:.2f}` is `0.34`. A number is
//! right-aligned in its width, padded with spaces or, after `0`, with zeros after its sign. A
//! field without a type writes an integer in full and a float as Rust's shortest `{}` of the
//! `f32` (Python writes the digits of the `f64` it becomes, `0.10000000149011612` for `0.1`).
//! The rest of Python's mini-language (fill, alignment, sign, grouping, `e`, `g`, `%`,
//! conversions, indexing) is refused when the template is parsed.

use std::fmt::Write;

use crate::metrics::MetricValues;

/// A value a template can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Name {
    Epoch,
    Batch,
    Loss,
    Accuracy,
    ValLoss,
    ValAccuracy,
    LearningRate,
    /// A metric's key, the template's `metrics[i]`.
    Metric(usize),
}

impl Name {
    const ALL: [Name; 7] = [
        Name::Epoch,
        Name::Batch,
        Name::Loss,
        Name::Accuracy,
        Name::ValLoss,
        Name::ValAccuracy,
        Name::LearningRate,
    ];

    /// Keras' name for it ("a metric" for a metric: see [`Template::name`]).
    fn as_str(self) -> &'static str {
        match self {
            Name::Epoch => "epoch",
            Name::Batch => "batch",
            Name::Loss => "loss",
            Name::Accuracy => "accuracy",
            Name::ValLoss => "val_loss",
            Name::ValAccuracy => "val_accuracy",
            Name::LearningRate => "learning_rate",
            Name::Metric(_) => "a metric",
        }
    }

    fn is_integer(self) -> bool {
        matches!(self, Name::Epoch | Name::Batch)
    }
}

/// A field's type: none, `d` or `f`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Default,
    Integer,
    Fixed,
}

/// `[0][width][.precision][type]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Spec {
    zero: bool,
    width: usize,
    precision: Option<usize>,
    kind: Kind,
}

#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Literal(String),
    Field(Name, Spec),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Template {
    pieces: Vec<Piece>,
    /// The keys of the metrics its fields name.
    metrics: Vec<String>,
}

/// The values of one save; `None` for those this fit or this moment does not log.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Values {
    pub(super) epoch: usize,
    pub(super) batch: Option<usize>,
    pub(super) loss: Option<f32>,
    pub(super) accuracy: Option<f32>,
    pub(super) val_loss: Option<f32>,
    pub(super) val_accuracy: Option<f32>,
    pub(super) learning_rate: Option<f32>,
    /// The metrics' training values, and their validation values when measured.
    pub(super) metrics: MetricValues,
    pub(super) val_metrics: Option<MetricValues>,
}

enum Value {
    Integer(usize),
    Float(f32),
}

impl Values {
    /// The value of `name`, a metric's key being `metrics[i]`.
    fn get(&self, name: Name, metrics: &[String]) -> Option<Value> {
        match name {
            Name::Epoch => Some(Value::Integer(self.epoch)),
            Name::Batch => self.batch.map(Value::Integer),
            Name::Loss => self.loss.map(Value::Float),
            Name::Accuracy => self.accuracy.map(Value::Float),
            Name::ValLoss => self.val_loss.map(Value::Float),
            Name::ValAccuracy => self.val_accuracy.map(Value::Float),
            Name::LearningRate => self.learning_rate.map(Value::Float),
            Name::Metric(i) => {
                let key = metrics.get(i)?;
                let value = match key.strip_prefix("val_") {
                    Some(name) => self.val_metrics?.get(name),
                    None => self.metrics.get(key),
                };
                value.map(Value::Float)
            }
        }
    }
}

const EXPECTED_NAMES: &str = "`epoch`, `batch`, `loss`, `accuracy`, `val_loss`, `val_accuracy`, `learning_rate`, or a metric's key of letters, digits and `_`";
const EXPECTED_SPEC: &str = "`[0][width][.precision][d|f]`, such as `02d` or `.4f`";

impl Template {
    /// Parses `source`, or says what is wrong with it.
    pub(super) fn parse(source: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut metrics = Vec::new();
        let mut literal = String::new();
        let mut rest = source;
        while let Some(at) = rest.find(['{', '}']) {
            literal.push_str(&rest[..at]);
            let brace = &rest[at..];
            if brace.starts_with("{{") || brace.starts_with("}}") {
                literal.push_str(&brace[..1]);
                rest = &brace[2..];
                continue;
            }
            let offset = source.len() - brace.len();
            if brace.starts_with('}') {
                return Err(format!(
                    "`}}` at byte {offset} closes no field; expected `}}}}` for a literal brace"
                ));
            }
            let Some(end) = brace.find('}') else {
                return Err(format!(
                    "`{{` at byte {offset} is not closed; expected `{{name}}`, or `{{{{` for a literal brace"
                ));
            };
            let field = &brace[1..end];
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            let (name, spec) = Self::field(field, &mut metrics)?;
            pieces.push(Piece::Field(name, spec));
            rest = &brace[end + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Self { pieces, metrics })
    }

    /// The name and spec of the field `{field}`; a metric's key is added to `metrics`.
    fn field(field: &str, metrics: &mut Vec<String>) -> Result<(Name, Spec), String> {
        let (name_text, spec_text) = match field.split_once(':') {
            Some((name, spec)) => (name, Some(spec)),
            None => (field, None),
        };
        let is_key = |text: &str| {
            text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let builtin = Name::ALL.into_iter().find(|n| n.as_str() == name_text);
        let metric = || match metrics.iter().position(|key| key == name_text) {
            Some(i) => Name::Metric(i),
            None => {
                metrics.push(name_text.to_owned());
                Name::Metric(metrics.len() - 1)
            }
        };
        let Some(name) = builtin.or_else(|| is_key(name_text).then(metric)) else {
            return Err(if name_text.is_empty() {
                format!("the field `{{{field}}}` has no name; expected one of {EXPECTED_NAMES}")
            } else {
                format!(
                    "unknown field `{name_text}` in `{{{field}}}`; expected one of {EXPECTED_NAMES}"
                )
            });
        };
        let spec = match spec_text {
            Some(text) => Self::spec(text).ok_or_else(|| {
                format!("unsupported format `{text}` in `{{{field}}}`; expected {EXPECTED_SPEC}")
            })?,
            None => Spec {
                zero: false,
                width: 0,
                precision: None,
                kind: Kind::Default,
            },
        };
        if name.is_integer() && spec.kind == Kind::Default && spec.precision.is_some() {
            return Err(format!(
                "`{{{field}}}` gives the integer `{}` a precision; expected the type `d`, or `f` for decimals",
                name_text
            ));
        }
        if !name.is_integer() && spec.kind == Kind::Integer {
            return Err(format!(
                "`{{{field}}}` formats the float `{}` as an integer (`d`); expected `f`, such as `{{{}:.4f}}`",
                name_text, name_text
            ));
        }
        if !name.is_integer() && spec.kind == Kind::Default && spec.precision.is_some() {
            return Err(format!(
                "`{{{field}}}` has a precision without a type; expected `f` after it, such as `{{{}:.4f}}`",
                name_text
            ));
        }
        if spec.kind == Kind::Integer && spec.precision.is_some() {
            return Err(format!(
                "`{{{field}}}`: an integer (`d`) takes no precision; expected {EXPECTED_SPEC}"
            ));
        }
        Ok((name, spec))
    }

    /// `[0][width][.precision][d|f]`, or `None`.
    fn spec(text: &str) -> Option<Spec> {
        let (zero, text) = match text.strip_prefix('0') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let digits = |text: &str| {
            text.find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len())
        };
        let width_end = digits(text);
        let width = if width_end == 0 {
            0
        } else {
            text[..width_end].parse().ok()?
        };
        let mut text = &text[width_end..];
        let mut precision = None;
        if let Some(rest) = text.strip_prefix('.') {
            let end = digits(rest);
            precision = Some(rest[..end].parse().ok()?);
            text = &rest[end..];
        }
        let kind = match text {
            "" => Kind::Default,
            "d" => Kind::Integer,
            "f" => Kind::Fixed,
            _ => return None,
        };
        Some(Spec {
            zero,
            width,
            precision,
            kind,
        })
    }

    /// The text of `name` in the template.
    pub(super) fn name(&self, name: Name) -> &str {
        match name {
            Name::Metric(i) => self.metrics.get(i).map_or("", String::as_str),
            _ => name.as_str(),
        }
    }

    /// The metrics' keys its fields name.
    pub(super) fn metrics(&self) -> impl Iterator<Item = (Name, &str)> {
        self.metrics
            .iter()
            .enumerate()
            .map(|(i, key)| (Name::Metric(i), key.as_str()))
    }

    /// Whether a field names `name`.
    pub(super) fn uses(&self, name: Name) -> bool {
        self.pieces
            .iter()
            .any(|piece| matches!(piece, Piece::Field(n, _) if *n == name))
    }

    /// The text for `values`, or the first name it uses that has no value.
    pub(super) fn format(&self, values: &Values) -> Result<String, Name> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Field(name, spec) => {
                    let value = values.get(*name, &self.metrics).ok_or(*name)?;
                    write_value(&mut out, value, spec);
                }
            }
        }
        Ok(out)
    }
}

/// Writes `value` as Python's `format(value, spec)` would, for the specs [`Template::parse`]
/// accepts.
fn write_value(out: &mut String, value: Value, spec: &Spec) {
    let width = spec.width;
    // Writing to a `String` cannot fail.
    let _ = match (value, spec.kind, spec.zero) {
        (Value::Integer(n), Kind::Fixed, zero) => {
            write_fixed(out, n as f64, spec.precision.unwrap_or(6), width, zero)
        }
        (Value::Float(x), Kind::Fixed, zero) => {
            write_fixed(out, f64::from(x), spec.precision.unwrap_or(6), width, zero)
        }
        (Value::Integer(n), _, true) => write!(out, "{n:0width$}"),
        (Value::Integer(n), _, false) => write!(out, "{n:width$}"),
        (Value::Float(x), _, true) => write!(out, "{x:0width$}"),
        (Value::Float(x), _, false) => write!(out, "{x:>width$}"),
    };
}

fn write_fixed(
    out: &mut String,
    x: f64,
    precision: usize,
    width: usize,
    zero: bool,
) -> std::fmt::Result {
    if zero {
        write!(out, "{x:0width$.precision$}")
    } else {
        write!(out, "{x:width$.precision$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            epoch: 5,
            batch: Some(7),
            loss: Some(0.5),
            accuracy: Some(0.875),
            val_loss: Some(0.3412),
            val_accuracy: None,
            learning_rate: Some(0.01),
            ..Values::default()
        }
    }

    fn format(template: &str) -> String {
        Template::parse(template)
            .unwrap_or_else(|e| panic!("{template}: {e}"))
            .format(&values())
            .unwrap()
    }

    #[test]
    fn fields_take_pythons_width_zero_padding_and_precision() {
        assert_eq!(format("{epoch:02d}-{val_loss:.2f}"), "05-0.34");
        assert_eq!(format("w.{epoch:03d}.safetensors"), "w.005.safetensors");
        assert_eq!(format("{epoch}-{batch}"), "5-7");
        assert_eq!(format("{epoch:4d}|{batch:02}"), "   5|07");
        assert_eq!(format("{loss:.3f}"), "0.500");
        assert_eq!(format("{accuracy:f}"), "0.875000", "`f` alone: 6 digits");
        assert_eq!(format("{val_loss:07.3f}"), "000.341");
        assert_eq!(format("{val_loss:8.1f}"), "     0.3");
        assert_eq!(format("{epoch:.1f}"), "5.0", "an integer as fixed point");
        assert_eq!(format("{learning_rate}"), "0.01", "the shortest f32");
        assert_eq!(format("{{epoch}}{epoch}}}"), "{epoch}5}");
        assert_eq!(format("plain.safetensors"), "plain.safetensors");
    }

    #[test]
    fn fixed_point_rounds_the_exact_value_as_python_does() {
        // 0.125 is exact: half to even gives 0.12; the f32 nearest 0.345 is 0.34499999880..
        let halves = Values {
            loss: Some(0.125),
            val_loss: Some(0.345),
            ..values()
        };
        let template = Template::parse("{loss:.2f} {val_loss:.2f}").unwrap();
        assert_eq!(template.format(&halves).unwrap(), "0.12 0.34");
        let negative = Values {
            loss: Some(-1.5),
            ..values()
        };
        let template = Template::parse("{loss:06.2f}").unwrap();
        assert_eq!(
            template.format(&negative).unwrap(),
            "-01.50",
            "zeros after the sign"
        );
    }

    #[test]
    fn a_name_without_a_value_is_reported_when_formatting() {
        let template = Template::parse("{epoch}-{val_accuracy:.2f}").unwrap();
        assert_eq!(template.format(&values()), Err(Name::ValAccuracy));
        assert!(template.uses(Name::ValAccuracy));
        assert!(!template.uses(Name::Batch));
    }

    #[test]
    fn other_names_are_metrics_keys() {
        use crate::metrics::{Auc, Metric};
        let mut auc = Auc::roc();
        auc.update(&[0.8, 0.3], &[1.0, 0.0]);
        let logged = MetricValues::of([&auc as &dyn Metric]);
        let template = Template::parse("{epoch:02d}-{val_auc:.3f}-{auc:.1f}-{val_auc}").unwrap();
        let keys: Vec<&str> = template.metrics().map(|(_, key)| key).collect();
        assert_eq!(keys, ["val_auc", "auc"], "each once");
        let logs = Values {
            metrics: logged,
            val_metrics: Some(logged),
            ..values()
        };
        assert_eq!(template.format(&logs).unwrap(), "05-1.000-1.0-1");
        let without_validation = Values {
            metrics: logged,
            ..values()
        };
        let missing = template.format(&without_validation).unwrap_err();
        assert_eq!(template.name(missing), "val_auc");
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        let cases = [
            ("{epoch", "`{` at byte 0 is not closed"),
            ("a}b", "`}` at byte 1 closes no field"),
            ("{}", "the field `{}` has no name; expected one of `epoch`"),
            (
                "{val-loss:.2f}",
                "unknown field `val-loss` in `{val-loss:.2f}`",
            ),
            ("{val_auc:d}", "formats the float `val_auc` as an integer"),
            ("{epoch!r}", "unknown field `epoch!r`"),
            ("{epoch:>3d}", "unsupported format `>3d` in `{epoch:>3d}`"),
            ("{loss:.2e}", "unsupported format `.2e`"),
            ("{loss:.f}", "unsupported format `.f`"),
            ("{loss:d}", "formats the float `loss` as an integer"),
            ("{loss:.2}", "a precision without a type"),
            ("{epoch:.2}", "gives the integer `epoch` a precision"),
            ("{epoch:.2d}", "an integer (`d`) takes no precision"),
        ];
        for (template, expected) in cases {
            let error = Template::parse(template).unwrap_err();
            assert!(
                error.contains(expected),
                "{template}: {error:?} lacks {expected:?}"
            );
        }
    }
}
