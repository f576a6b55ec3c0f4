//! Credentials never reach a message: `scheme://user:secret@host` is shown
//! as `scheme://***@host` wherever a URL may appear in text.

/// `text` with the userinfo of every URL in it replaced by `***`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends at the first of these; userinfo is before '@'.
        let end = tail
            .find(|c: char| {
                matches!(c, '/' | '?' | '#') || c.is_whitespace() || "\"'`<>()[]".contains(c)
            })
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => {
                out.push_str("***");
                rest = &tail[at..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn userinfo_is_hidden_everywhere_in_a_text() {
        assert_eq!(
            redact("error sending request for url (http://AKIA:s3cr%2Ft@127.0.0.1:9000/b/k)"),
            "error sending request for url (http://***@127.0.0.1:9000/b/k)"
        );
        assert_eq!(
            redact("a https://u@h/x and s3://KEY:SECRET@bucket/p, then http://plain/x@y"),
            "a https://***@h/x and s3://***@bucket/p, then http://plain/x@y"
        );
        assert_eq!(redact("no url here: a@b"), "no url here: a@b");
        assert_eq!(redact("http://h:1@"), "http://***@");
        assert_eq!(redact("ends with ://"), "ends with ://");
    }
}
