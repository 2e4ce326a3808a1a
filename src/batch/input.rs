//! Reading the list a manager was sent: a `.csv` as Russian Excel writes it (`;` or `,`,
//! UTF-8 with or without BOM, or Windows-1251) or an `.xlsx`, with a column of INNs found by
//! its header («ИНН», `inn`) or named with `--column`. An INN that Excel turned into a
//! number and so lost digits is reported, never guessed back.

use crate::check::batch::ItemError;
use crate::domain::Inn;
use std::collections::HashMap;
use std::path::Path;

/// One data row of the input.
#[derive(Debug, Clone, PartialEq)]
pub struct InputRow {
    /// The row's number as the spreadsheet shows it (the header is row 1).
    pub line: usize,
    /// The INN cell as written.
    pub raw: String,
    /// The INN, or why this row cannot be checked.
    pub inn: Result<Inn, ItemError>,
    /// Every cell of the row as text, so the output keeps the input's own columns.
    pub cells: Vec<String>,
}

/// The input's first row (its column names, as text) and its data rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub header: Vec<String>,
    pub rows: Vec<InputRow>,
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {0}: {1}")]
    Read(String, String),
    #[error("{0}: only .csv and .xlsx are read")]
    Format(String),
    #[error(
        "no column named «ИНН» or `inn` in the first row ({0}): name it with --column (a header, a letter such as B, or a number)"
    )]
    NoColumn(String),
    #[error("--column {0}: no such column in the first row ({1})")]
    UnknownColumn(String, String),
    #[error("the file has no rows")]
    Empty,
}

/// A cell as read: text, or a number Excel stored.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Text(String),
    Number(f64),
}

/// Reads every data row's INN (and its other cells) from `path`.
pub fn read(path: &Path, column: Option<&str>) -> Result<Input, InputError> {
    let shown = path.display().to_string();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let rows = match ext.as_deref() {
        Some("csv") => {
            let bytes = std::fs::read(path).map_err(|e| InputError::Read(shown, e.to_string()))?;
            csv_rows(&bytes).map_err(|e| InputError::Read(path.display().to_string(), e))?
        }
        Some("xlsx") => xlsx_rows(path).map_err(|e| InputError::Read(shown, e))?,
        _ => return Err(InputError::Format(shown)),
    };
    let mut rows = rows.into_iter().enumerate();
    let (_, header) = rows.next().ok_or(InputError::Empty)?;
    let index = column_of(&header, column)?;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let header_text = header.iter().map(cell_text).collect();
    let rows = rows
        .filter_map(|(i, cells)| {
            let texts: Vec<String> = cells.iter().map(cell_text).collect();
            let cell = cells.into_iter().nth(index)?;
            let raw = match &cell {
                Cell::Text(t) => t.trim().to_owned(),
                Cell::Number(n) => number_text(*n),
            };
            if raw.is_empty() {
                return None;
            }
            let line = i + 1;
            let inn = parse(&cell).and_then(|inn| match seen.get(inn.as_str()) {
                Some(first) => Err(error("duplicate", format!("the same INN as row {first}"))),
                None => {
                    seen.insert(inn.to_string(), line);
                    Ok(inn)
                }
            });
            Some(InputRow {
                line,
                raw,
                inn,
                cells: texts,
            })
        })
        .collect();
    Ok(Input {
        header: header_text,
        rows,
    })
}

fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) => t.trim_start_matches('\u{feff}').to_owned(),
        Cell::Number(n) => number_text(*n),
    }
}

fn error(code: &str, detail: impl Into<String>) -> ItemError {
    ItemError {
        code: code.into(),
        detail: detail.into(),
    }
}

/// An INN from a cell; a number that lost digits to Excel is an error that says so.
fn parse(cell: &Cell) -> Result<Inn, ItemError> {
    let text = match cell {
        Cell::Number(n) if n.fract() != 0.0 || *n < 0.0 => {
            return Err(error("inn_digits", format!("{n} is not an INN")));
        }
        Cell::Number(n) => number_text(*n),
        Cell::Text(t) => {
            let t = t.trim();
            if looks_scientific(t) {
                return Err(error(
                    "inn_excel_number",
                    format!(
                        "Excel wrote the INN as {t}, losing its digits: format the column as text and save the file again"
                    ),
                ));
            }
            t.to_owned()
        }
    };
    let digits = text.chars().filter(char::is_ascii_digit).count();
    if (digits == 9 || digits == 11)
        && text.chars().all(|c| c.is_ascii_digit())
        && Inn::parse(&format!("0{text}")).is_ok()
    {
        return Err(error(
            "inn_leading_zero_lost",
            format!(
                "{text} has {digits} digits: Excel dropped the INN's leading zero (0{text}?); format the column as text and type it again"
            ),
        ));
    }
    Inn::parse(&text).map_err(|e| error(e.code(), e.to_string()))
}

/// `7.70708E+09`, `7,70708E+09`: what Excel writes for a long number in a narrow column.
fn looks_scientific(t: &str) -> bool {
    let upper = t.to_ascii_uppercase();
    match upper.split_once('E') {
        Some((mantissa, exponent)) => {
            !mantissa.is_empty()
                && mantissa
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
                && exponent
                    .trim_start_matches(['+', '-'])
                    .chars()
                    .all(|c| c.is_ascii_digit())
                && !exponent.trim_start_matches(['+', '-']).is_empty()
        }
        None => false,
    }
}

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// The INN column: `--column` (a header, a letter, a 1-based number), else the header
/// «ИНН» or `inn`.
fn column_of(header: &[Cell], wanted: Option<&str>) -> Result<usize, InputError> {
    let names: Vec<String> = header
        .iter()
        .map(|c| match c {
            Cell::Text(t) => t.trim().trim_start_matches('\u{feff}').to_owned(),
            Cell::Number(n) => number_text(*n),
        })
        .collect();
    let shown = names.join(", ");
    let normal = |s: &str| s.trim().to_lowercase();
    match wanted {
        Some(w) => {
            if let Some(i) = names.iter().position(|n| normal(n) == normal(w)) {
                return Ok(i);
            }
            if let Ok(n) = w.parse::<usize>()
                && n >= 1
            {
                return Ok(n - 1);
            }
            if w.len() == 1 && w.chars().all(|c| c.is_ascii_alphabetic()) {
                return Ok((w.to_ascii_uppercase().as_bytes()[0] - b'A') as usize);
            }
            Err(InputError::UnknownColumn(w.to_owned(), shown))
        }
        None => names
            .iter()
            .position(|n| matches!(normal(n).as_str(), "инн" | "inn"))
            .or_else(|| {
                names.iter().position(|n| {
                    normal(n)
                        .split(|c: char| !c.is_alphanumeric())
                        .any(|w| w == "инн" || w == "inn")
                })
            })
            .ok_or(InputError::NoColumn(shown)),
    }
}

/// The text of a CSV file: UTF-8 (a BOM is dropped) or, failing that, Windows-1251.
fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1251.decode(bytes).0.into_owned(),
    }
}

fn csv_rows(bytes: &[u8]) -> Result<Vec<Vec<Cell>>, String> {
    let text = decode(bytes);
    let first = text.lines().next().unwrap_or_default();
    // Russian Excel writes `;`; others `,`; a tab now and then.
    let delimiter = [b';', b',', b'\t']
        .into_iter()
        .max_by_key(|d| first.bytes().filter(|b| b == d).count())
        .unwrap_or(b';');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| {
            r.map(|record| record.iter().map(|f| Cell::Text(f.to_owned())).collect())
                .map_err(|e| e.to_string())
        })
        .collect()
}

fn xlsx_rows(path: &Path) -> Result<Vec<Vec<Cell>>, String> {
    use calamine::{Data, Reader};
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook(path).map_err(|e: calamine::XlsxError| e.to_string())?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or("the workbook has no sheet")?
        .map_err(|e| e.to_string())?;
    Ok(range
        .rows()
        .map(|row| {
            row.iter()
                .map(|cell| match cell {
                    Data::Int(i) => Cell::Number(*i as f64),
                    Data::Float(f) => Cell::Number(*f),
                    Data::Empty => Cell::Text(String::new()),
                    other => Cell::Text(other.to_string()),
                })
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(rows: &[InputRow]) -> Vec<(usize, String)> {
        rows.iter()
            .map(|r| {
                (
                    r.line,
                    match &r.inn {
                        Ok(inn) => inn.to_string(),
                        Err(e) => e.code.clone(),
                    },
                )
            })
            .collect()
    }

    fn csv_file(bytes: &[u8]) -> tempfile_path::Path {
        tempfile_path::write("input.csv", bytes)
    }

    mod tempfile_path {
        pub struct Path(pub std::path::PathBuf);
        pub fn write(name: &str, bytes: &[u8]) -> Path {
            let dir =
                std::env::temp_dir().join(format!("kontragent-input-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            Path(path)
        }
        impl Drop for Path {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
            }
        }
    }

    #[test]
    fn a_russian_excel_csv_in_windows_1251_with_semicolons() {
        let text = "Наименование;ИНН;Контакт\nООО Ромашка;7707083893;Иван\n;;\nАО Лютик;7.70708E+09;\nИП Пётр;027406211180;\nООО Дубль;7707 083 893;\nООО Ноль;274062111;\n";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        let file = csv_file(&bytes);
        let input = read(&file.0, None).unwrap();
        assert_eq!(input.header, ["Наименование", "ИНН", "Контакт"]);
        assert_eq!(input.rows[0].cells, ["ООО Ромашка", "7707083893", "Иван"]);
        let rows = input.rows;
        assert_eq!(
            codes(&rows),
            [
                (2, "7707083893".into()),
                (4, "inn_excel_number".into()),
                (5, "inn_checksum".into()),
                (6, "duplicate".into()),
                (7, "inn_leading_zero_lost".into()),
            ]
        );
        assert_eq!(
            rows[3].inn.as_ref().unwrap_err().detail,
            "the same INN as row 2"
        );
    }

    #[test]
    fn utf8_with_a_bom_and_commas_and_a_column_by_letter() {
        let file = csv_file("\u{feff}name,tax id\nA,7707083893\n".as_bytes());
        assert!(matches!(read(&file.0, None), Err(InputError::NoColumn(_))));
        let input = read(&file.0, Some("B")).unwrap();
        assert_eq!(input.header, ["name", "tax id"], "the BOM is not a name's");
        assert_eq!(codes(&input.rows), [(2, "7707083893".into())]);
        let input = read(&file.0, Some("tax id")).unwrap();
        assert_eq!(input.rows.len(), 1);
    }

    #[test]
    fn excel_numbers_that_lost_a_leading_zero_are_reported() {
        assert_eq!(
            parse(&Cell::Number(7707083893.0)).unwrap().as_str(),
            "7707083893"
        );
        let lost = parse(&Cell::Number(274062111.0)).unwrap_err();
        assert_eq!(lost.code, "inn_leading_zero_lost");
        assert!(looks_scientific("7,70708E+09") && !looks_scientific("7707083893"));
    }
}
