//! `${VAR}`, `${VAR:-default}` and `${VAR:?message}` in configuration string values.
//!
//! Interpolation runs on values after the file is parsed, never on the file text, so a variable
//! can change a value but never the structure of the configuration. `$$` is a literal `$`.

/// Why a value could not be interpolated: the byte offset of the `${` in the value, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvError {
    /// Byte offset in the value.
    pub offset: usize,
    /// The problem.
    pub message: String,
}

/// Expands variables in `value` using `lookup`.
pub fn interpolate(
    value: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, EnvError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut offset = 0;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            offset += i + 2;
            rest = tail;
            continue;
        }
        let Some(body_and_tail) = after.strip_prefix('{') else {
            out.push('$');
            offset += i + 1;
            rest = after;
            continue;
        };
        let Some(close) = body_and_tail.find('}') else {
            return Err(EnvError {
                offset: offset + i,
                message: "unterminated '${': expected '}'".into(),
            });
        };
        let body = &body_and_tail[..close];
        let (name, op, arg) = if let Some((n, d)) = body.split_once(":-") {
            (n, Some('-'), d)
        } else if let Some((n, m)) = body.split_once(":?") {
            (n, Some('?'), m)
        } else {
            (body, None, "")
        };
        let valid_name = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid_name {
            return Err(EnvError {
                offset: offset + i,
                message: format!("invalid variable name '{name}' in '${{{body}}}'"),
            });
        }
        match (lookup(name).filter(|v| !v.is_empty() || op.is_none()), op) {
            (Some(v), _) => out.push_str(&v),
            (None, Some('-')) => out.push_str(arg),
            (None, Some(_)) => {
                return Err(EnvError {
                    offset: offset + i,
                    message: format!(
                        "environment variable {name} is not set: {}",
                        if arg.is_empty() {
                            "it is required"
                        } else {
                            arg
                        }
                    ),
                });
            }
            (None, None) => {
                return Err(EnvError {
                    offset: offset + i,
                    message: format!(
                        "environment variable {name} is not set (use ${{{name}:-default}} for a default)"
                    ),
                });
            }
        }
        let used = i + 2 + close + 1;
        offset += used;
        rest = &rest[used..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("example".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_defaults_and_literals() {
        assert_eq!(
            interpolate("http://${HOST}:80", env).unwrap(),
            "http://example:80"
        );
        assert_eq!(interpolate("${NOPE:-fallback}", env).unwrap(), "fallback");
        assert_eq!(interpolate("${EMPTY:-fallback}", env).unwrap(), "fallback");
        assert_eq!(interpolate("${EMPTY}", env).unwrap(), "");
        assert_eq!(interpolate("$$.x and $.y", env).unwrap(), "$.x and $.y");
    }

    #[test]
    fn reports_where() {
        let e = interpolate("a ${NOPE}", env).unwrap_err();
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("NOPE"));
        let e = interpolate("${NOPE:?set it to the token}", env).unwrap_err();
        assert!(e.message.contains("set it to the token"));
        assert!(interpolate("${", env).is_err());
        assert!(interpolate("${1X}", env).is_err());
    }
}
