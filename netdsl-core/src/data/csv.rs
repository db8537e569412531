//! Tabular data from CSV files: one sample a row, its inputs and its target in columns.

use std::io;
use std::path::{Path, PathBuf};

use super::{Dataset, Error};

/// A column of a CSV file: by position from 0, or by its name in the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// The column at this position, the first being 0.
    Index(usize),
    /// The column of this name in the header row.
    Name(String),
}

impl From<usize> for Column {
    fn from(index: usize) -> Self {
        Column::Index(index)
    }
}

impl From<&str> for Column {
    fn from(name: &str) -> Self {
        Column::Name(name.to_owned())
    }
}

/// What the target columns hold.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Targets {
    /// One column of class indices below `OUT`, one-hot encoded.
    Classes,
    /// One column of class names, the `OUT` names given in class order, one-hot encoded.
    Named(Vec<String>),
    /// `OUT` columns of numbers, from the target column on.
    Values,
}

/// How [`Dataset::from_csv`] reads a CSV file: where the target is and what it holds, whether
/// the first row is a header, and the delimiter. Every other column is an input, in the file's
/// order.
///
/// ```
/// use netdsl_core::data::CsvOptions;
///
/// // Keras habit: `df.pop("species")` as labels, the rest as features.
/// let classify = CsvOptions::classes("species");
/// // A regression on the last column of a file without header, separated by semicolons.
/// let regress = CsvOptions::values(4).has_header(false).delimiter(b';');
/// # let _ = (classify, regress);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    target: Column,
    targets: Targets,
    header: bool,
    delimiter: u8,
}

impl CsvOptions {
    /// The target is the class index (`0`, `1`, ..., below the dataset's `OUT`) in `column`,
    /// one-hot encoded as batches are gathered: a classifier's labels.
    pub fn classes(column: impl Into<Column>) -> Self {
        Self::new(column.into(), Targets::Classes)
    }

    /// The target is a class name in `column`, one of `names` (`OUT` of them), whose position
    /// in `names` is the class: labels written as words, `setosa` rather than `0`.
    ///
    /// ```
    /// use netdsl_core::data::{CsvOptions, Dataset};
    /// use std::path::Path;
    ///
    /// let text = "petal_length,species\n1.4,setosa\n4.5,versicolor\n6.0,virginica\n";
    /// let options = CsvOptions::class_names("species", &["setosa", "versicolor", "virginica"]);
    /// let iris = Dataset::<1, 3>::from_csv_reader(text.as_bytes(), Path::new("iris.csv"), &options)?;
    /// assert_eq!(iris.target(2), [0.0, 0.0, 1.0]);
    /// # Ok::<(), netdsl_core::data::Error>(())
    /// ```
    pub fn class_names(column: impl Into<Column>, names: &[&str]) -> Self {
        let names = names.iter().map(|&name| name.to_owned()).collect();
        Self::new(column.into(), Targets::Named(names))
    }

    /// The targets are the numbers in `OUT` columns from `column` on: a regression's (one
    /// column when `OUT` is 1).
    pub fn values(column: impl Into<Column>) -> Self {
        Self::new(column.into(), Targets::Values)
    }

    fn new(target: Column, targets: Targets) -> Self {
        Self {
            target,
            targets,
            header: true,
            delimiter: b',',
        }
    }

    /// Whether the first row names the columns (the default) or is a sample.
    pub fn has_header(self, header: bool) -> Self {
        Self { header, ..self }
    }

    /// The byte between fields: `,` (the default), `;`, `\t`, ...
    pub fn delimiter(self, delimiter: u8) -> Self {
        Self { delimiter, ..self }
    }
}

impl<const IN: usize, const OUT: usize> Dataset<IN, OUT> {
    /// Reads a CSV file of one sample a row: the target columns `options` names, and `IN`
    /// input columns, all the others, in their order. Fields are trimmed of spaces; every input
    /// and value target must be a finite number, every class a whole number below `OUT`.
    ///
    /// ```
    /// use netdsl_core::data::{CsvOptions, Dataset};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("iris.csv");
    /// std::fs::write(
    ///     &path,
    ///     "sepal_length,sepal_width,petal_length,petal_width,species\n\
    ///      5.1,3.5,1.4,0.2,0\n\
    ///      6.4,3.2,4.5,1.5,1\n\
    ///      6.3,3.3,6.0,2.5,2\n",
    /// )?;
    /// let iris = Dataset::<4, 3>::from_csv(&path, &CsvOptions::classes("species"))?;
    /// assert_eq!(iris.len(), 3);
    /// assert_eq!(iris.input(1), [6.4, 3.2, 4.5, 1.5]);
    /// assert_eq!(iris.target(1), [0.0, 1.0, 0.0]);
    ///
    /// // A sample with a missing field is an error naming its line, not a panic.
    /// std::fs::write(&path, "a,b,y\n1,2,0.5\n3,0.25\n")?;
    /// let error = Dataset::<2, 1>::from_csv(&path, &CsvOptions::values("y")).unwrap_err();
    /// assert!(error.to_string().ends_with("line 3 has 2 fields, expected 3 (2 inputs and 1 target)"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read (or is not UTF-8); [`Error::ClassCount`] if
    /// [`CsvOptions::class_names`] gave other than `OUT` names; [`Error::CsvColumn`] if the
    /// target column is not one of the file's; [`Error::CsvFieldCount`] for a row (the header
    /// included) of other than `IN` inputs and the targets; [`Error::CsvField`] for a field
    /// that is not a finite number, not a class below `OUT`, or not one of the class names.
    pub fn from_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Self, Error> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_csv_reader(io::BufReader::new(file), path, options)
    }

    /// [`Dataset::from_csv`] on CSV text from `reader`, which errors name as `origin`.
    ///
    /// # Errors
    ///
    /// As [`Dataset::from_csv`].
    pub fn from_csv_reader(
        reader: impl io::Read,
        origin: &Path,
        options: &CsvOptions,
    ) -> Result<Self, Error> {
        let path = || origin.to_owned();
        let io_error = |error: csv::Error| Error::Io {
            path: path(),
            source: io::Error::from(error),
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(options.header)
            .delimiter(options.delimiter)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(reader);
        if let Targets::Named(names) = &options.targets
            && names.len() != OUT
        {
            return Err(Error::ClassCount {
                what: format!(
                    "`CsvOptions::class_names` {names:?} for `{}`",
                    origin.display()
                ),
                classes: names.len(),
                outputs: OUT,
            });
        }
        let target_count = match options.targets {
            Targets::Classes | Targets::Named(_) => 1,
            Targets::Values => OUT,
        };
        let width = IN + target_count;
        let header = match options.header {
            true => Some(reader.headers().map_err(io_error)?.clone()),
            false => None,
        };
        if let Some(header) = &header {
            check_count(header.len(), 1, width, target_count, path)?;
        }
        let no_column = |column: String| Error::CsvColumn {
            path: path(),
            column,
            columns: match &header {
                Some(header) => header.iter().map(str::to_owned).collect(),
                None => (0..width).map(|i| i.to_string()).collect(),
            },
        };
        let first = match &options.target {
            Column::Index(index) => *index,
            Column::Name(name) => header
                .as_ref()
                .and_then(|header| header.iter().position(|column| column == name))
                .ok_or_else(|| no_column(name.clone()))?,
        };
        if first + target_count > width {
            return Err(no_column(first.to_string()));
        }
        let targets = first..first + target_count;
        let name = |column: usize| match &header {
            Some(header) => format!("`{}`", &header[column]),
            None => format!("{column}"),
        };

        let (mut inputs, mut values, mut classes) = (Vec::new(), Vec::new(), Vec::new());
        let mut record = csv::StringRecord::new();
        while reader.read_record(&mut record).map_err(io_error)? {
            let line = record.position().map_or(0, csv::Position::line);
            check_count(record.len(), line, width, target_count, path)?;
            for (column, field) in record.iter().enumerate() {
                let bad = |expected: &'static str| Error::CsvField {
                    path: path(),
                    line,
                    column: name(column),
                    field: field.to_owned(),
                    expected,
                };
                if targets.contains(&column)
                    && let Targets::Named(names) = &options.targets
                {
                    match names.iter().position(|name| name == field) {
                        Some(class) => classes.push(class as u32),
                        None => return Err(bad("one of the class names given")),
                    }
                    continue;
                }
                if targets.contains(&column) && options.targets == Targets::Classes {
                    let class = field
                        .parse::<f64>()
                        .ok()
                        .filter(|c| c.fract() == 0.0 && (0.0..OUT as f64).contains(c));
                    match class {
                        Some(class) => classes.push(class as u32),
                        None => return Err(bad("a class index, a whole number below `OUT`")),
                    }
                    continue;
                }
                let value = field.parse::<f32>().ok().filter(|v| v.is_finite());
                let Some(value) = value else {
                    return Err(bad("a finite number"));
                };
                match targets.contains(&column) {
                    true => values.push(value),
                    false => inputs.push(value),
                }
            }
        }
        let inputs = rows::<IN>(&inputs);
        match options.targets {
            Targets::Classes | Targets::Named(_) => Self::from_classes(inputs, classes),
            Targets::Values => Self::from_arrays(inputs, rows::<OUT>(&values)),
        }
    }
}

/// Flat values as rows of `N` (their number is a multiple of `N`), without an `[f32; N]` on the
/// stack.
fn rows<const N: usize>(values: &[f32]) -> Vec<[f32; N]> {
    if N == 0 {
        return Vec::new();
    }
    bytemuck::cast_slice(values).to_vec()
}

/// A row of `found` fields on `line`, where `expected` are due, `targets` of them targets.
fn check_count(
    found: usize,
    line: u64,
    expected: usize,
    targets: usize,
    path: impl Fn() -> PathBuf,
) -> Result<(), Error> {
    if found == expected {
        return Ok(());
    }
    Err(Error::CsvFieldCount {
        path: path(),
        line,
        found,
        inputs: expected - targets,
        targets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<const IN: usize, const OUT: usize>(
        text: &str,
        options: &CsvOptions,
    ) -> Result<Dataset<IN, OUT>, Error> {
        Dataset::from_csv_reader(text.as_bytes(), Path::new("test.csv"), options)
    }

    #[test]
    fn classes_are_one_hot_and_inputs_the_other_columns_in_order() {
        let text = "label, x1 ,x2\n2, 0.5, -1\n0,1e-3,4\n";
        let data = read::<2, 3>(text, &CsvOptions::classes(0)).unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data.input(0), [0.5, -1.0]);
        assert_eq!(data.target(0), [0.0, 0.0, 1.0]);
        assert_eq!(data.input(1), [0.001, 4.0]);
        assert_eq!(data.target(1), [1.0, 0.0, 0.0]);
        // A whole number written as a float is a class too.
        let data = read::<1, 2>(
            "1.0;7\n",
            &CsvOptions::classes(0).has_header(false).delimiter(b';'),
        );
        assert_eq!(data.unwrap().target(0), [0.0, 1.0]);
    }

    #[test]
    fn class_names_are_classes_in_the_order_given() {
        let options = CsvOptions::class_names(1, &["cat", "dog"]);
        let data = read::<1, 2>("x,animal\n0.5,dog\n1,cat\n", &options).unwrap();
        assert_eq!(data.target(0), [0.0, 1.0]);
        assert_eq!(data.target(1), [1.0, 0.0]);
        let error = read::<1, 2>("x,animal\n0.5,cow\n", &options).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`test.csv`: line 2, column `animal`: expected one of the class names given, found `cow`"
        );
        let error = read::<1, 3>("x,animal\n", &options).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`CsvOptions::class_names` [\"cat\", \"dog\"] for `test.csv` has 2 classes, but the dataset was asked for 3 outputs"
        );
    }

    #[test]
    fn value_targets_span_out_columns_from_theirs() {
        let text = "a,y1,y2,b\n1,10,20,2\n3,30,40,4\n";
        let data = read::<2, 2>(text, &CsvOptions::values("y1")).unwrap();
        assert_eq!(data.input(1), [3.0, 4.0]);
        assert_eq!(data.target(1), [30.0, 40.0]);
        let empty = read::<2, 2>("a,y1,y2,b\n", &CsvOptions::values(1)).unwrap();
        assert_eq!(empty.len(), 0);
    }

    #[test]
    fn malformed_rows_are_errors_naming_the_line_and_the_column() {
        let options = CsvOptions::values("y");
        let message = |text: &str| read::<2, 1>(text, &options).unwrap_err().to_string();
        assert_eq!(
            message("a,b,y\n1,2,3\n1,2\n"),
            "`test.csv`: line 3 has 2 fields, expected 3 (2 inputs and 1 target)"
        );
        assert_eq!(
            message("a,b,c,y\n"),
            "`test.csv`: line 1 has 4 fields, expected 3 (2 inputs and 1 target)"
        );
        assert_eq!(
            message("a,b,y\n1,NaN,3\n"),
            "`test.csv`: line 2, column `b`: expected a finite number, found `NaN`"
        );
        assert_eq!(
            message("a,b,y\n1,2,inf\n"),
            "`test.csv`: line 2, column `y`: expected a finite number, found `inf`"
        );
        assert_eq!(
            message("a,b,y\n1,,3\n"),
            "`test.csv`: line 2, column `b`: expected a finite number, found ``"
        );
        assert_eq!(
            message("a,b,z\n"),
            "`test.csv` has no target column `y`: its columns are [\"a\", \"b\", \"z\"]"
        );
        let classes = |text: &str| {
            let options = CsvOptions::classes(2).has_header(false);
            read::<2, 3>(text, &options).unwrap_err().to_string()
        };
        for label in ["3", "-1", "1.5", "one"] {
            assert_eq!(
                classes(&format!("0,0,{label}\n")),
                format!(
                    "`test.csv`: line 1, column 2: expected a class index, a whole number below `OUT`, found `{label}`"
                )
            );
        }
        let error = read::<2, 1>("a,b,y\n", &CsvOptions::values(5)).unwrap_err();
        assert!(matches!(error, Error::CsvColumn { .. }), "{error:?}");
        let not_utf8 = &b"a,b\xff,y\n"[..];
        let error = Dataset::<2, 1>::from_csv_reader(not_utf8, Path::new("t.csv"), &options);
        let error = error.unwrap_err();
        assert!(matches!(error, Error::Io { .. }), "{error:?}");
    }
}
