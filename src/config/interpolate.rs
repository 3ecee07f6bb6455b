//! `${VAR}` interpolation from the environment, applied to string values after
//! parsing so that a value containing YAML syntax cannot change the document.
//! `$${` writes a literal `${`. An unset variable is an error, never an empty
//! string: a silently empty password or path is worse than a refusal.

/// Expands `${NAME}` in `text` with `lookup`; returns the names that were unset.
pub(crate) fn interpolate(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(stripped) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = stripped;
        } else if let Some(body) = after.strip_prefix("${") {
            match body.find('}') {
                Some(end) => {
                    let name = &body[..end];
                    match lookup(name) {
                        Some(v) => out.push_str(&v),
                        None => missing.push(name.to_string()),
                    }
                    rest = &body[end + 1..];
                }
                None => {
                    out.push_str(after);
                    rest = "";
                }
            }
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "PW").then(|| "s3cr#t: x".to_string())
    }

    #[test]
    fn expands_escapes_and_reports_unset() {
        assert_eq!(interpolate("a ${PW} b", &env).unwrap(), "a s3cr#t: x b");
        assert_eq!(interpolate("$${PW} $5", &env).unwrap(), "${PW} $5");
        assert_eq!(
            interpolate("${NOPE}/${ALSO}", &env).unwrap_err(),
            vec!["NOPE".to_string(), "ALSO".to_string()]
        );
    }
}
