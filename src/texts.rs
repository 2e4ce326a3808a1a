//! The catalogue of the service's texts in Russian. The code writes its messages in English
//! (the log, the tests and the errors' `Display` read them so); what a person reads is looked
//! up here by that English text, as gettext looks up a `msgid`. A template's `{}` stands for
//! what varies (an id, a number, a name) and is carried over as it is. A text not in the
//! catalogue is shown in English: add it here.

use crate::domain::Language;

/// Problem titles by machine code.
const TITLES: &[(&str, &str, &str)] = &[
    ("inn", "Invalid INN", "Неверный ИНН"),
    ("body", "Bad request body", "Неверное тело запроса"),
    (
        "body_too_large",
        "Body too large",
        "Слишком большое тело запроса",
    ),
    (
        "unsupported_media_type",
        "Unsupported media type",
        "Неподдерживаемый тип содержимого",
    ),
    ("invalid_field", "Invalid request", "Неверный запрос"),
    ("invalid_ruleset", "Invalid ruleset", "Ошибки в правилах"),
    (
        "ruleset_too_costly",
        "Ruleset too costly",
        "Правила слишком сложны",
    ),
    ("not_found", "Not found", "Не найдено"),
    (
        "method_not_allowed",
        "Method not allowed",
        "Метод не поддерживается",
    ),
    ("unauthorized", "Unauthorized", "Нужен ключ API"),
    ("forbidden", "Forbidden", "Доступ запрещён"),
    (
        "rate_limited",
        "Too many requests",
        "Слишком много запросов",
    ),
    ("service_busy", "Busy", "Сервис занят"),
    (
        "invalid_query",
        "Invalid query",
        "Неверные параметры запроса",
    ),
    ("not_ready", "Not ready", "Сервис не готов"),
    ("conflict", "Conflict", "Конфликт"),
    ("refused", "Refused", "Отказано"),
    ("internal", "Internal error", "Внутренняя ошибка"),
];

/// English text → Russian; `{}` is carried over in order.
const RU: &[(&str, &str)] = &[
    // The INN, the form's phone and e-mail.
    ("the INN is missing", "ИНН не указан"),
    ("an INN contains digits only", "ИНН состоит только из цифр"),
    (
        "an INN has 10 digits (legal entity) or 12 digits (individual)",
        "в ИНН 10 цифр (организация) или 12 цифр (ИП, физическое лицо)",
    ),
    (
        "the INN check digits do not match",
        "контрольные цифры ИНН не сходятся: проверьте, нет ли опечатки",
    ),
    (
        "not a phone number (for example +7 495 123-45-67)",
        "это не номер телефона (пример: +7 495 123-45-67)",
    ),
    ("not an e-mail address", "это не адрес электронной почты"),
    (
        "an OGRN contains digits only",
        "ОГРН состоит только из цифр",
    ),
    (
        "an OGRN has 13 digits, an OGRNIP 15",
        "в ОГРН 13 цифр, в ОГРНИП 15",
    ),
    (
        "the OGRN check digit does not match",
        "контрольная цифра ОГРН не сходится",
    ),
    // Fields.
    ("required", "обязательное поле"),
    ("at most {} characters", "не длиннее {} символов"),
    ("at most {}", "не больше {}"),
    ("from 1 to 100", "от 1 до 100"),
    ("from 1 to 5", "от 1 до 5"),
    ("ru or en", "ru или en"),
    ("say why", "укажите причину"),
    ("say who", "укажите, кто"),
    ("at most {} (ten years)", "не больше {} (десять лет)"),
    (
        "at most {} (an hour); a wait ends at check.max_wait_ms",
        "не больше {} (час); ожидание ограничено check.max_wait_ms",
    ),
    (
        "from 1 to {} INNs (a longer list: `kontragent batch`)",
        "от 1 до {} ИНН (длинный список: `kontragent batch`)",
    ),
    (
        "not a cursor this service gave (`next_cursor` of a page)",
        "это не курсор этого сервиса (`next_cursor` страницы)",
    ),
    (
        "suspend, review, reinstate or remove",
        "suspend, review, reinstate или remove",
    ),
    (
        "call_attempt, schedule_call, take_into_work, assign, agreement_signed, reject or reopen",
        "call_attempt, schedule_call, take_into_work, assign, agreement_signed, reject или reopen",
    ),
    ("`{}` needs `{}`", "для `{}` нужно `{}`"),
    ("needs both `by` and `reason`", "нужны и `by`, и `reason`"),
    (
        "required when the registries gave none",
        "обязательно, когда реестры не дали названия",
    ),
    (
        "a review needs a rating from 1 to 5",
        "у отзыва должна быть оценка от 1 до 5",
    ),
    (
        "only a review has a rating",
        "оценка бывает только у отзыва",
    ),
    (
        "say whether the job was done on time",
        "укажите, выполнена ли работа в срок",
    ),
    (
        "1 to 255 visible ASCII characters",
        "от 1 до 255 видимых символов ASCII",
    ),
    (
        "a version is its SHA-256 in hex, or the first {} or more of its digits",
        "версия — это её SHA-256 (hex) или не меньше {} первых цифр",
    ),
    // Bodies, methods, keys, limits.
    (
        "the body is not valid JSON: {}",
        "тело запроса — не JSON: {}",
    ),
    (
        "the body cannot be read (for a text body: UTF-8)",
        "тело запроса не читается (текст — только в UTF-8)",
    ),
    (
        "the body is larger than {} bytes",
        "тело запроса больше {} байт",
    ),
    (
        "send the body as application/json",
        "отправьте тело как application/json",
    ),
    (
        "unknown field `{}`, expected {}",
        "неизвестное поле `{}`, ожидается {}",
    ),
    (
        "unknown scoring profile `{}`",
        "неизвестный профиль правил `{}`",
    ),
    (
        "the ruleset has {} problem(s); see `errors`",
        "в правилах ошибок: {}; см. `errors`",
    ),
    (
        "the ruleset is over the size or cost bounds; see `errors`",
        "правила превышают ограничения размера или сложности; см. `errors`",
    ),
    (
        "this resource does not accept that method",
        "этот ресурс не принимает такой метод",
    ),
    ("a valid API key is required", "нужен действующий ключ API"),
    (
        "this API key lacks the scope `{}`",
        "у этого ключа API нет права `{}`",
    ),
    (
        "too many requests; retry after {} s",
        "слишком много запросов; повторите через {} с",
    ),
    (
        "too many checks are running; retry after {} s",
        "идёт слишком много проверок; повторите через {} с",
    ),
    ("the service is not ready: {}", "сервис не готов: {}"),
    ("internal error", "внутренняя ошибка"),
    (
        "this route declares no access",
        "у этого маршрута не объявлен доступ",
    ),
    (
        "this Idempotency-Key was used with another request",
        "этот Idempotency-Key уже использован с другим запросом",
    ),
    (
        "the first request with this Idempotency-Key is still running",
        "первый запрос с этим Idempotency-Key ещё выполняется",
    ),
    // What serde and the parsers say of a value (a JSON body, a query parameter).
    (
        "invalid type: {}, expected {}",
        "неверный тип: {}, ожидается {}",
    ),
    (
        "invalid value: {}, expected {}",
        "неверное значение: {}, ожидается {}",
    ),
    ("missing field `{}`", "нет обязательного поля `{}`"),
    (
        "unknown variant `{}`, expected {}",
        "неизвестное значение `{}`, ожидается {}",
    ),
    (
        "unknown field `{}`, expected one of {}",
        "неизвестное поле `{}`, ожидается одно из: {}",
    ),
    (
        "expected value at line {} column {}",
        "ожидалось значение (строка {}, столбец {})",
    ),
    (
        "EOF while parsing a value at line {} column {}",
        "JSON оборван (строка {}, столбец {})",
    ),
    (
        "EOF while parsing an object at line {} column {}",
        "JSON оборван внутри объекта (строка {}, столбец {})",
    ),
    (
        "trailing characters at line {} column {}",
        "лишние символы после JSON (строка {}, столбец {})",
    ),
    ("invalid digit found in string", "в числе не только цифры"),
    (
        "number too large to fit in target type",
        "слишком большое число",
    ),
    (
        "cannot parse integer from empty string",
        "пустое значение вместо числа",
    ),
    (
        "provided string was not `true` or `false`",
        "ожидается `true` или `false`",
    ),
    (
        "input contains invalid characters",
        "неверный формат даты и времени (RFC 3339)",
    ),
    ("premature end of input", "дата и время оборваны (RFC 3339)"),
    (
        "input is out of range",
        "дата или время вне допустимого диапазона",
    ),
    ("trailing input", "лишние символы после даты и времени"),
    // Not found.
    ("no resource at {}", "по адресу {} ничего нет"),
    ("no check with id {}", "нет проверки с id {}"),
    ("no batch with id {}", "нет пакета с id {}"),
    ("INN {} has never been checked", "ИНН {} ещё не проверялся"),
    ("no rules version {}", "нет версии правил {}"),
    (
        "no monitoring run {} on this instance",
        "нет прогона мониторинга {} на этом экземпляре",
    ),
    ("no such application", "нет такой заявки"),
    (
        "no such webhook or delivery",
        "нет такой подписки или доставки",
    ),
    ("{} is not in the catalog", "{} нет в каталоге"),
    // The catalog and applications.
    (
        "INN {} has never been checked; check it first",
        "ИНН {} ещё не проверялся; сначала проверьте его",
    ),
    (
        "the latest check of {} decided `{}`; listing needs `approve` (or an override with who and why)",
        "последняя проверка {} дала решение `{}`; в каталог вносят при `approve` (или с исключением: кто и почему)",
    ),
    (
        "the latest approve of {} is from {}, older than allowed; check it again (or override)",
        "последнее одобрение {} от {} — старше допустимого; проверьте заново (или внесите с исключением)",
    ),
    ("{} is already in the catalog", "{} уже в каталоге"),
    (
        "cannot {} a contractor that is {}",
        "нельзя выполнить {} для контрагента в статусе {}",
    ),
    (
        "the status changed meanwhile; read it again",
        "статус тем временем изменился; прочитайте его заново",
    ),
    (
        "`{}` does not apply to an application in stage `{}`",
        "`{}` не применяется к заявке на этапе `{}`",
    ),
    (
        "the application changed meanwhile; read it again",
        "заявка тем временем изменилась; прочитайте её заново",
    ),
    // A batch's rows.
    ("the same INN as row {}", "тот же ИНН, что в строке {}"),
    ("{} is not an INN", "{} — не ИНН"),
    (
        "Excel wrote the INN as {}, losing its digits: format the column as text and save the file again",
        "Excel записал ИНН как {} и потерял цифры: сделайте столбец текстовым и сохраните файл заново",
    ),
    (
        "{} has {} digits: Excel dropped the INN's leading zero (0{}?); format the column as text and type it again",
        "в {} всего {} цифр: Excel отбросил ведущий ноль ИНН (0{}?); сделайте столбец текстовым и введите ИНН заново",
    ),
    (
        "stopped before this row was checked; run the same command again to go on",
        "остановлено до проверки этой строки: запустите ту же команду ещё раз, чтобы продолжить",
    ),
    (
        "stopped before this INN was checked; send it again",
        "остановлено до проверки этого ИНН: отправьте его снова",
    ),
    ("storage failed", "сбой хранилища"),
    (
        "the check task panicked",
        "проверка прервалась из-за внутренней ошибки",
    ),
    (
        "too many checks are running; try again shortly",
        "идёт слишком много проверок: повторите чуть позже",
    ),
    (
        "interrupted: the service stopped before the check finished",
        "прервано: сервис остановился до конца проверки",
    ),
    // CRM portals.
    (
        "the portal could not be reached: {}",
        "портал недоступен: {}",
    ),
    (
        "the portal answered HTTP {}: {} {}",
        "портал ответил HTTP {}: {} {}",
    ),
    ("the portal {} is not installed", "портал {} не установлен"),
    // Rules.
    (
        "{} begins {} versions: {}; give more digits",
        "с {} начинаются {} версии: {}; укажите больше цифр",
    ),
    (
        "{} is a {} version and {} a {} one: compare versions of one file",
        "{} — версия {}, а {} — версия {}: сравнивайте версии одного файла",
    ),
    (
        "the file has no profile `{}` (it has: {})",
        "в файле нет профиля `{}` (есть: {})",
    ),
];

/// The title of a problem with `code`, in `language`.
pub fn problem_title(code: &str, language: Language) -> Option<&'static str> {
    TITLES
        .iter()
        .find(|(c, ..)| *c == code)
        .map(|(_, en, ru)| match language {
            Language::En => *en,
            Language::Ru => *ru,
        })
}

/// `english` in `language`: as it is for English, from the catalogue for Russian (the
/// English text when the catalogue lacks it).
pub fn in_language(english: &str, language: Language) -> String {
    match language {
        Language::En => english.to_owned(),
        Language::Ru => russian(english).unwrap_or_else(|| english.to_owned()),
    }
}

/// The Russian of `english`, when a template of the catalogue matches it (the one with the
/// longest fixed beginning, then the most fixed text, when several do).
pub fn russian(english: &str) -> Option<String> {
    translate(english, 2)
}

/// [`russian`], with a value after `: ` that is itself a text of the catalogue (a parser's
/// message inside ours) translated too, `depth` levels down.
fn translate(english: &str, depth: u8) -> Option<String> {
    RU.iter()
        .filter_map(|(en, ru)| {
            let parts: Vec<&str> = en.split("{}").collect();
            // Only a value after `: ` is a message of its own (`…JSON: <the parser's>`);
            // any other value (an id, a name) is carried over as it is.
            let captures: Vec<String> = matches(en, english)?
                .into_iter()
                .enumerate()
                .map(|(i, value)| {
                    depth
                        .checked_sub(1)
                        .filter(|_| parts[i].ends_with(": "))
                        .and_then(|d| translate(value, d))
                        .unwrap_or_else(|| value.to_owned())
                })
                .collect();
            let captures: Vec<&str> = captures.iter().map(String::as_str).collect();
            // The longest fixed beginning first: a value that ends like another template
            // (`x is already in the catalog`) never takes the message over.
            let prefix = en.split("{}").next().unwrap_or_default().len();
            let fixed = en.len() - 2 * captures.len();
            Some(((prefix, fixed), fill(ru, &captures)))
        })
        .max_by_key(|(rank, _)| *rank)
        .map(|(_, text)| text)
}

/// What each `{}` of `template` stands for in `text` (never empty), or `None` when it does
/// not match.
fn matches<'t>(template: &str, text: &'t str) -> Option<Vec<&'t str>> {
    let parts: Vec<&str> = template.split("{}").collect();
    let mut left = text.strip_prefix(parts[0])?;
    if parts.len() == 1 {
        return left.is_empty().then(Vec::new);
    }
    let mut captures = Vec::with_capacity(parts.len() - 1);
    for (i, part) in parts[1..].iter().enumerate() {
        let at = if i + 2 == parts.len() {
            left.strip_suffix(part)?.len()
        } else if part.is_empty() {
            return None;
        } else {
            left.find(part)?
        };
        if at == 0 {
            return None;
        }
        captures.push(&left[..at]);
        left = &left[at + part.len()..];
    }
    Some(captures)
}

fn fill(template: &str, captures: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut values = captures.iter();
    let mut parts = template.split("{}");
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for part in parts {
        out.push_str(values.next().copied().unwrap_or_default());
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_found_by_its_english_with_what_varies_carried_over() {
        assert_eq!(
            russian("the INN check digits do not match").unwrap(),
            "контрольные цифры ИНН не сходятся: проверьте, нет ли опечатки"
        );
        assert_eq!(
            russian("no check with id 01a2-ff").unwrap(),
            "нет проверки с id 01a2-ff"
        );
        assert_eq!(
            russian("at most 300 characters").unwrap(),
            "не длиннее 300 символов",
            "the template with more fixed text wins over `at most {{}}`"
        );
        assert_eq!(
            russian("cannot suspend a contractor that is removed").unwrap(),
            "нельзя выполнить suspend для контрагента в статусе removed"
        );
        assert_eq!(russian("at most 1000").unwrap(), "не больше 1000");
        assert_eq!(
            russian("the body is not valid JSON: EOF while parsing a value at line 1 column 7")
                .unwrap(),
            "тело запроса — не JSON: JSON оборван (строка 1, столбец 7)",
            "a parser's message inside ours"
        );
        assert!(russian("required!").is_none(), "a fixed text matches whole");
        assert_eq!(
            russian("no rules version x is already in the catalog").unwrap(),
            "нет версии правил x is already in the catalog",
            "a value never takes the message over"
        );
        assert!(russian("something the catalogue lacks").is_none());
        assert_eq!(
            in_language("something the catalogue lacks", Language::Ru),
            "something the catalogue lacks"
        );
        assert_eq!(in_language("required", Language::En), "required");
    }

    #[test]
    fn every_template_matches_its_own_text_and_every_code_has_a_title() {
        for (en, ru) in RU {
            assert_eq!(
                en.matches("{}").count(),
                ru.matches("{}").count(),
                "{en}: the Russian carries every value"
            );
            let sample = en.replace("{}", "X");
            assert!(russian(&sample).is_some(), "{en}");
        }
        for (code, en, ru) in TITLES {
            assert_eq!(problem_title(code, Language::En), Some(*en));
            assert_eq!(problem_title(code, Language::Ru), Some(*ru));
        }
    }
}
