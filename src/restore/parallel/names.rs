//! The table a mysqldump statement is about, read from the statement's own
//! text (which the screen has already found to be one whole statement of
//! that kind). Anything not written the way mysqldump writes it gives
//! `None`, and the statement is then loaded on the main connection.

/// The statement's text after leading white space and `--` comment lines.
fn body(unit: &[u8]) -> &[u8] {
    let mut rest = unit;
    loop {
        let trimmed = rest.trim_ascii_start();
        if trimmed.starts_with(b"--") || trimmed.starts_with(b"#") {
            match trimmed.iter().position(|&b| b == b'\n') {
                Some(i) => rest = &trimmed[i + 1..],
                None => return b"",
            }
        } else {
            return trimmed;
        }
    }
}

/// One identifier at the start of `s`: `` `name` `` (with ``` `` ``` for a
/// backtick) or a bare word; the name and what follows it.
fn ident(s: &[u8]) -> Option<(String, &[u8])> {
    if let Some(rest) = s.strip_prefix(b"`") {
        let mut name = Vec::new();
        let mut i = 0;
        while i < rest.len() {
            if rest[i] == b'`' {
                if rest.get(i + 1) == Some(&b'`') {
                    name.push(b'`');
                    i += 2;
                    continue;
                }
                return Some((String::from_utf8(name).ok()?, &rest[i + 1..]));
            }
            name.push(rest[i]);
            i += 1;
        }
        return None;
    }
    let n = s
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'$')
        .count();
    (n > 0).then(|| (String::from_utf8_lossy(&s[..n]).into_owned(), &s[n..]))
}

/// `name` or `db`.`name`, as one key.
fn table(s: &[u8]) -> Option<(String, &[u8])> {
    let (first, rest) = ident(s)?;
    if let Some(after_dot) = rest.strip_prefix(b".") {
        let (second, rest) = ident(after_dot)?;
        return Some((format!("{first}.{second}"), rest));
    }
    Some((first, rest))
}

fn keyword<'a>(s: &'a [u8], word: &str) -> Option<&'a [u8]> {
    let s = s.trim_ascii_start();
    let head = s.get(..word.len())?;
    let next = s.get(word.len()).copied().unwrap_or(b' ');
    (head.eq_ignore_ascii_case(word.as_bytes()) && !next.is_ascii_alphanumeric())
        .then(|| &s[word.len()..])
}

/// `INSERT INTO t VALUES ...` / `INSERT INTO t (cols) VALUES ...`: `t`.
pub fn insert_table(unit: &[u8]) -> Option<String> {
    let rest = keyword(body(unit), "INSERT")?;
    let rest = keyword(rest, "INTO")?;
    let (name, after) = table(rest.trim_ascii_start())?;
    matches!(after.first(), Some(b' ' | b'(' | b'\n' | b'\t')).then_some(name)
}

/// `CREATE TABLE [IF NOT EXISTS] t (...`: `t`.
pub fn create_table(unit: &[u8]) -> Option<String> {
    let rest = keyword(body(unit), "CREATE")?;
    let rest = keyword(rest, "TABLE")?;
    let rest = keyword(rest, "IF")
        .and_then(|r| keyword(r, "NOT"))
        .and_then(|r| keyword(r, "EXISTS"))
        .unwrap_or(rest);
    let (name, after) = table(rest.trim_ascii_start())?;
    (after.trim_ascii_start().first() == Some(&b'(')).then_some(name)
}

/// `LOCK TABLES t WRITE;` for one table: `t`.
pub fn lock_table(unit: &[u8]) -> Option<String> {
    let rest = keyword(body(unit), "LOCK")?;
    let rest = keyword(rest, "TABLES")?;
    let (name, after) = table(rest.trim_ascii_start())?;
    let after = keyword(after, "WRITE")?;
    (after.trim_ascii() == b";").then_some(name)
}

/// `/*!40000 ALTER TABLE t DISABLE KEYS */;` (or ENABLE): `t`.
pub fn keys_table(unit: &[u8]) -> Option<String> {
    let b = body(unit);
    let rest = b.strip_prefix(b"/*!40000").unwrap_or(b);
    let rest = keyword(rest, "ALTER")?;
    let rest = keyword(rest, "TABLE")?;
    let (name, after) = table(rest.trim_ascii_start())?;
    let after = keyword(after, "DISABLE").or_else(|| keyword(after, "ENABLE"))?;
    let after = keyword(after, "KEYS")?;
    let after = after.trim_ascii();
    (after == b"*/;" || after == b";").then_some(name)
}

/// The table a `CREATE ... TRIGGER name {BEFORE|AFTER} {INSERT|UPDATE|DELETE} ON t` is on.
pub fn trigger_table(unit: &[u8]) -> Option<String> {
    let b = body(unit);
    let at = find_word(b, b"TRIGGER")?;
    let rest = &b[at + b"TRIGGER".len()..];
    let (_, rest) = table(rest.trim_ascii_start())?;
    let rest = keyword(rest, "BEFORE").or_else(|| keyword(rest, "AFTER"))?;
    let rest = keyword(rest, "INSERT")
        .or_else(|| keyword(rest, "UPDATE"))
        .or_else(|| keyword(rest, "DELETE"))?;
    let rest = keyword(rest, "ON")?;
    table(rest.trim_ascii_start()).map(|(name, _)| name)
}

/// Where the word `word` (upper case) first stands alone in `s`.
fn find_word(s: &[u8], word: &[u8]) -> Option<usize> {
    let alone = |b: Option<&u8>| b.is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'_');
    (0..s.len().saturating_sub(word.len() - 1)).find(|&i| {
        s[i..i + word.len()].eq_ignore_ascii_case(word)
            && alone(i.checked_sub(1).and_then(|j| s.get(j)))
            && alone(s.get(i + word.len()))
    })
}

/// The bare table name of a key (`db.t` → `t`), for matching triggers,
/// which may name the table with or without its database.
pub fn bare(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysqldump_statements_name_their_table() {
        assert_eq!(
            insert_table(b"INSERT INTO `order items` VALUES (1,'a'),(2,'b');\n").as_deref(),
            Some("order items")
        );
        assert_eq!(
            insert_table(b"-- c\nINSERT INTO `shop`.`a``b` (`x`) VALUES (1);\n").as_deref(),
            Some("shop.a`b")
        );
        assert_eq!(
            insert_table(b"INSERT INTO t VALUES (1);").as_deref(),
            Some("t")
        );
        assert_eq!(insert_table(b"INSERT INTOx t VALUES (1);"), None);
        assert_eq!(insert_table(b"INSERT INTO `t"), None);
        assert_eq!(
            lock_table(b"LOCK TABLES `t` WRITE;\n").as_deref(),
            Some("t")
        );
        assert_eq!(lock_table(b"LOCK TABLES `t` WRITE, `u` WRITE;\n"), None);
        assert_eq!(lock_table(b"LOCK TABLES `t` READ;\n"), None);
        assert_eq!(
            keys_table(b"/*!40000 ALTER TABLE `t` DISABLE KEYS */;\n").as_deref(),
            Some("t")
        );
        assert_eq!(
            keys_table(b"ALTER TABLE `t` ENABLE KEYS;").as_deref(),
            Some("t")
        );
        assert_eq!(keys_table(b"ALTER TABLE `t` ADD KEY k (a);"), None);
        let trigger = b"/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER `on orders` BEFORE INSERT ON `orders` FOR EACH ROW SET NEW.x = 1 */;;\n";
        assert_eq!(trigger_table(trigger).as_deref(), Some("orders"));
        assert_eq!(trigger_table(b"CREATE TRIGGER t AFTER FLY ON x"), None);
        assert_eq!(bare("shop.orders"), "orders");
    }
}
