//! Writing a batch's results: one row per input row, in input order, as `.xlsx` (a frozen
//! header, filters, decision cells coloured), `.csv` (`;`, UTF-8 with BOM, as Russian Excel
//! opens it) or `.json`.

use crate::check::Check;
use crate::check::batch::ItemError;
use crate::domain::{Decision, Language};
use crate::human;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The result of one input row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// The input row's number.
    pub line: usize,
    /// The INN as written in the input.
    pub inn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
    /// The input row's own cells, written after ours.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input: Vec<String>,
}

/// A cell of the output: text, a number Excel can sum and sort, or a link it opens.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    Number(f64),
    Link(String),
}

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Text(t) | Value::Link(t) => t.clone(),
            Value::Number(n) => n.to_string(),
        }
    }

    /// As a CSV cell: a text a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, a
    /// tab or a return first — a registry's name or an input cell may start so) is
    /// quoted with `'`, which Excel shows as text.
    fn csv_text(&self) -> String {
        match self {
            Value::Text(t) if t.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{t}"),
            other => other.text(),
        }
    }
}

/// Excel's limit of hyperlinks on a sheet; the links past it are written as text.
const MAX_LINKS: usize = 65_530;

/// The columns, in order, per language.
const HEADERS_RU: &[&str] = &[
    "Строка",
    "ИНН",
    "Название",
    "Статус",
    "Решение",
    "Балл",
    "Причины",
];
const HEADERS_EN: &[&str] = &[
    "Row", "INN", "Name", "Status", "Decision", "Score", "Reasons",
];

/// Everything a row shows, in column order; the decision apart for its colour.
struct Line {
    cells: Vec<Value>,
    decision: Option<Decision>,
}

/// How the results read: the language, the time zone, what the report links are relative
/// to, and the input's own column names (kept after ours).
pub struct Layout<'a> {
    pub language: Language,
    pub zone: chrono_tz::Tz,
    pub link_base: &'a str,
    pub input_header: &'a [String],
}

/// The name of the sheet the results are on.
pub const SHEET_RU: &str = "Проверка";

fn lines(rows: &[ResultRow], sources: &[String], layout: &Layout) -> (Vec<String>, Vec<Line>) {
    let Layout {
        language,
        zone,
        link_base,
        input_header,
    } = *layout;
    let ru = language == Language::Ru;
    let mut header: Vec<String> = if ru { HEADERS_RU } else { HEADERS_EN }
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    header.extend(sources.iter().cloned());
    header.extend(
        if ru {
            ["Справка", "Проверено", "Ошибка"]
        } else {
            ["Report", "Checked at", "Error"]
        }
        .map(String::from),
    );
    header.extend(input_header.iter().cloned());
    let text = |s: String| Value::Text(s);
    let lines = rows
        .iter()
        .map(|row| {
            let check = row.check.as_ref();
            let company = check.and_then(|c| c.company.as_ref());
            // The rule that decided instead of the score goes first among the reasons: the
            // score then never reads as contradicting the decision.
            let reasons = check
                .map(|c| {
                    human::override_line(c, language)
                        .into_iter()
                        .chain(
                            c.reasons
                                .iter()
                                .map(|r| format!("{}: {}", r.title, r.message)),
                        )
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            let mut cells = vec![
                Value::Number(row.line as f64),
                text(row.inn.clone()),
                text(company.and_then(|c| c.name.clone()).unwrap_or_default()),
                text(
                    company
                        .map(|c| human::company_status(c.status, language).to_owned())
                        .unwrap_or_default(),
                ),
                text(human::decision_words(check.and_then(|c| c.decision), language).to_owned()),
                check
                    .and_then(|c| c.score)
                    .map_or_else(|| text(String::new()), |s| Value::Number(s as f64)),
                text(reasons),
            ];
            for source in sources {
                cells.push(text(
                    check
                        .and_then(|c| c.sources.get(source))
                        .map(|s| human::source_status(s, language))
                        .unwrap_or_default(),
                ));
            }
            cells.push(
                check
                    .map(|c| Value::Link(format!("{link_base}{}", c.report_link())))
                    .unwrap_or_else(|| text(String::new())),
            );
            cells.push(text(
                check
                    .and_then(|c| c.checked_at)
                    .map(|t| human::time(t, zone))
                    .unwrap_or_default(),
            ));
            cells.push(text(
                row.error
                    .as_ref()
                    .map(|e| {
                        format!(
                            "{} ({})",
                            crate::texts::in_language(&e.detail, language),
                            e.code
                        )
                    })
                    .unwrap_or_default(),
            ));
            cells.extend(row.input.iter().cloned().map(Value::Text));
            Line {
                cells,
                decision: check.and_then(|c| c.decision),
            }
        })
        .collect();
    (header, lines)
}

/// Writes `rows` to `path` in the format its extension names (`.xlsx`, `.csv`, `.json`),
/// through a temporary file renamed into place, so an interrupted write never leaves half a
/// file.
pub fn write(path: &Path, rows: &[ResultRow], layout: &Layout) -> Result<(), String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let tmp = path.with_extension(format!("partial.{}", ext.as_deref().unwrap_or_default()));
    let mut sources: Vec<String> = rows
        .iter()
        .filter_map(|r| r.check.as_ref())
        .flat_map(|c| c.sources.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if sources.is_empty() {
        sources = crate::sources::source_names().map(String::from).collect();
    }
    match ext.as_deref() {
        Some("json") => {
            let json = serde_json::to_vec_pretty(rows).map_err(|e| e.to_string())?;
            std::fs::write(&tmp, json).map_err(|e| e.to_string())?;
        }
        Some("csv") => {
            let (header, lines) = lines(rows, &sources, layout);
            let mut out = b"\xEF\xBB\xBF".to_vec();
            {
                let mut w = csv::WriterBuilder::new()
                    .delimiter(b';')
                    .from_writer(&mut out);
                w.write_record(&header).map_err(|e| e.to_string())?;
                for line in &lines {
                    let cells: Vec<String> = line.cells.iter().map(Value::csv_text).collect();
                    w.write_record(&cells).map_err(|e| e.to_string())?;
                }
                w.flush().map_err(|e| e.to_string())?;
            }
            std::fs::write(&tmp, out).map_err(|e| e.to_string())?;
        }
        Some("xlsx") => {
            let (header, lines) = lines(rows, &sources, layout);
            let ours = header.len() - layout.input_header.len();
            xlsx(&tmp, &header, &lines, ours, layout.language).map_err(|e| e.to_string())?;
        }
        _ => {
            return Err(format!(
                "{}: the output is .xlsx, .csv or .json",
                path.display()
            ));
        }
    }
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}

/// The sheet: our columns (`ours` of them, the error last), then the input's own.
fn xlsx(
    path: &Path,
    header: &[String],
    lines: &[Line],
    ours: usize,
    language: Language,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Color, Format, Workbook};
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(match language {
        Language::Ru => SHEET_RU,
        Language::En => "Check",
    })?;
    let bold = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xE8E8E8));
    let wrap = Format::new().set_text_wrap();
    let colour = |rgb: u32| {
        Format::new()
            .set_bold()
            .set_background_color(Color::RGB(rgb))
    };
    let (approve, review, reject) = (colour(0xC6EFCE), colour(0xFFEB9C), colour(0xFFC7CE));
    const DECISION: u16 = 4;
    const REASONS: u16 = 6;
    let error = ours.saturating_sub(1) as u16;
    let last = header.len().saturating_sub(1) as u16;
    let link_text = match language {
        Language::Ru => "Справка",
        Language::En => "Report",
    };
    // Row, INN, name, status, decision, score, reasons; registries, report, time, error;
    // then the input's columns.
    let widths: Vec<f64> = (0..=last)
        .map(|col| match col {
            0 => 7.0,
            1 => 12.0,
            2 => 30.0,
            3 | 4 => 17.0,
            5 => 8.0,
            6 => 60.0,
            c if c == error => 40.0,
            c if c + 1 == error => 17.0,
            c if c + 2 == error => 12.0,
            c if c > error => 18.0,
            _ => 22.0,
        })
        .collect();
    for (col, title) in header.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, title, &bold)?;
    }
    let mut links = 0;
    for (i, line) in lines.iter().enumerate() {
        let row = i as u32 + 1;
        // Spreadsheets do not grow a row for wrapped text on their own: size it to the
        // tallest wrapped cell (about one character per width unit).
        let tallest = [REASONS, error]
            .iter()
            .filter_map(|&c| {
                line.cells
                    .get(c as usize)
                    .map(|v| (v.text(), widths[c as usize]))
            })
            .map(|(v, w)| {
                v.split('\n')
                    .map(|l| (l.chars().count() as f64 / w).ceil().max(1.0))
                    .sum::<f64>()
            })
            .fold(1.0, f64::max);
        if tallest > 1.0 {
            sheet.set_row_height(row, 15.0 * tallest)?;
        }
        for (col, value) in line.cells.iter().enumerate() {
            let col = col as u16;
            let text = match value {
                Value::Number(n) => {
                    sheet.write_number(row, col, *n)?;
                    continue;
                }
                // A link the spreadsheet opens; a bare path (no public URL) stays text.
                Value::Link(url) if url.starts_with("http") && links < MAX_LINKS => {
                    sheet.write_url_with_text(row, col, url.as_str(), link_text)?;
                    links += 1;
                    continue;
                }
                Value::Text(t) | Value::Link(t) => t,
            };
            match (col, line.decision) {
                (DECISION, Some(Decision::Approve)) => {
                    sheet.write_string_with_format(row, col, text, &approve)?
                }
                (DECISION, Some(Decision::Review)) => {
                    sheet.write_string_with_format(row, col, text, &review)?
                }
                (DECISION, Some(Decision::Reject)) => {
                    sheet.write_string_with_format(row, col, text, &reject)?
                }
                (REASONS, _) => sheet.write_string_with_format(row, col, text, &wrap)?,
                (c, _) if c == error => sheet.write_string_with_format(row, col, text, &wrap)?,
                _ => sheet.write_string(row, col, text)?,
            };
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    // Printed: A4 landscape, every column on the page's width, the header on each page.
    sheet
        .set_paper_size(9)
        .set_landscape()
        .set_print_fit_to_pages(1, 0)
        .set_repeat_rows(0, 0)?;
    sheet.autofilter(0, 0, lines.len() as u32, last)?;
    for (col, width) in widths.iter().enumerate() {
        sheet.set_column_width(col as u16, *width)?;
    }
    workbook.save(path)
}

/// Results already written to a journal, by INN, for a resumed run.
pub fn read_journal(path: &Path) -> BTreeMap<String, ResultRow> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeMap::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<ResultRow>(l).ok())
        .filter_map(|r| r.check.as_ref().map(|c| (c.inn.clone(), r.clone())))
        .collect()
}

/// Adds a finished row to the journal (one JSON line).
pub fn append_journal(path: &Path, row: &ResultRow) -> Result<(), String> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut line = serde_json::to_vec(row).map_err(|e| e.to_string())?;
    line.push(b'\n');
    file.write_all(&line).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_cell_that_reads_as_a_formula_is_written_as_text() {
        let cell = |t: &str| Value::Text(t.into()).csv_text();
        assert_eq!(
            cell("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("ООО Ромашка"), "ООО Ромашка");
        assert_eq!(Value::Number(-5.0).csv_text(), "-5", "a number is a number");
    }
}
