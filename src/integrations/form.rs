//! Form bodies with PHP-style nested keys, as Bitrix24 and amoCRM send them:
//! `auth[member_id]=…`, `properties[inn]=…` or `properties[inn][0]=…`, `document_id[2]=…`.
//! Kept as the flat pairs they arrive as; a lookup names the key as written on the wire.

/// The decoded pairs of a form body, in order.
#[derive(Debug, Default, Clone)]
pub struct NestedForm {
    pairs: Vec<(String, String)>,
}

impl NestedForm {
    pub fn parse(body: &[u8]) -> NestedForm {
        NestedForm {
            pairs: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// Every pair as sent.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of `key` (`auth[member_id]`), or of its first element (`key[0]`) when the
    /// sender wrote it as a list; blank values count as absent.
    pub fn get(&self, key: &str) -> Option<&str> {
        let first = format!("{key}[0]");
        self.pairs
            .iter()
            .find(|(k, _)| k == key || *k == first)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_keys_lists_and_blanks_are_read_as_sent() {
        let form = NestedForm::parse(
            b"properties%5Binn%5D%5B0%5D=7707083893&properties%5BcompanyId%5D=3051\
              &document_id[2]=DEAL_8812&auth[member_id]=5f0c&properties[profile]=+&event_token=a%7Cb",
        );
        assert_eq!(form.get("properties[inn]"), Some("7707083893"));
        assert_eq!(form.get("properties[companyId]"), Some("3051"));
        assert_eq!(form.get("document_id[2]"), Some("DEAL_8812"));
        assert_eq!(form.get("auth[member_id]"), Some("5f0c"));
        assert_eq!(form.get("event_token"), Some("a|b"));
        assert_eq!(form.get("properties[profile]"), None, "blank");
        assert_eq!(form.get("auth"), None);
    }
}
