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

/// `CREATE TABLE IF NOT EXISTS ...`: a table that may be there already,
/// as it was.
pub fn if_not_exists(unit: &[u8]) -> bool {
    keyword(body(unit), "CREATE")
        .and_then(|r| keyword(r, "TABLE"))
        .and_then(|r| keyword(r, "IF"))
        .is_some()
}

/// A `CREATE TABLE` with a column that is AUTO_INCREMENT (not the
/// `AUTO_INCREMENT=N` table option).
pub fn has_auto_increment_column(unit: &[u8]) -> bool {
    let b = body(unit);
    let mut from = 0;
    while let Some(at) = find_word(&b[from..], b"AUTO_INCREMENT") {
        let after = &b[from + at + b"AUTO_INCREMENT".len()..];
        if after.trim_ascii_start().first() != Some(&b'=') {
            return true;
        }
        from += at + 1;
    }
    false
}

/// Statements that may change a table already made (`ALTER TABLE`,
/// `RENAME`) or make one not read by [`create_table`] (`CREATE TABLE t
/// LIKE u`, `CREATE OR REPLACE TABLE`, `... AS SELECT`), anywhere in
/// `unit` (every piece after a `;` is looked at, strings or not).
pub fn changes_tables(unit: &[u8]) -> bool {
    unit.split(|&b| b == b';').any(|piece| {
        let words: Vec<String> = String::from_utf8_lossy(body(piece))
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty() && !w.bytes().all(|b| b.is_ascii_digit()))
            .take(6)
            .map(|w| w.to_ascii_uppercase())
            .collect();
        let table_within = |n: usize| words.iter().skip(1).take(n).any(|w| w == "TABLE");
        match words.first().map(String::as_str) {
            Some("ALTER") => table_within(2),
            Some("RENAME") => true,
            Some("CREATE") => table_within(4),
            _ => false,
        }
    })
}

/// A `USE` setting: `Some(Some(db))` for `USE db`, `Some(None)` for text
/// that has a `USE` restoredrill does not read, `None` for none.
pub fn use_db(unit: &[u8]) -> Option<Option<String>> {
    if let Some(rest) = keyword(body(unit), "USE") {
        let read = table(rest.trim_ascii_start()).and_then(|(name, after)| {
            let after = after.trim_ascii();
            (!name.contains('.') && (after.is_empty() || after == b";")).then_some(name)
        });
        return Some(read);
    }
    find_word(unit, b"USE").map(|_| None)
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

    #[test]
    fn what_changes_the_tables_inserts_may_be_spread_over() {
        let create = b"CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=3;\n";
        assert!(has_auto_increment_column(create));
        assert!(!has_auto_increment_column(
            b"CREATE TABLE `t` (`id` int NOT NULL) ENGINE=InnoDB AUTO_INCREMENT=3;"
        ));
        assert!(if_not_exists(b"CREATE TABLE IF NOT EXISTS t (a int);"));
        assert!(!if_not_exists(create));
        for changes in [
            &b"ALTER TABLE t ADD COLUMN x int;"[..],
            b"/*!40000 ALTER IGNORE TABLE t ENGINE=InnoDB */;",
            b"RENAME TABLE a TO b;",
            b"CREATE TABLE t LIKE u;",
            b"CREATE OR REPLACE TABLE t (a int);",
            b"DROP TABLE x; ALTER TABLE t RENAME u;",
        ] {
            assert!(
                changes_tables(changes),
                "{}",
                String::from_utf8_lossy(changes)
            );
        }
        for not in [
            &b"ALTER DATABASE `a` CHARACTER SET latin1 ;"[..],
            b"DROP TABLE IF EXISTS `t`;",
            b"/*!50001 CREATE VIEW `v` AS SELECT 1 AS `table` */;",
        ] {
            assert!(!changes_tables(not), "{}", String::from_utf8_lossy(not));
        }
        assert_eq!(
            use_db(b"\n--\n-- Current Database: `a`\n--\n\nUSE `a`;\n"),
            Some(Some("a".into()))
        );
        assert_eq!(use_db(b"USE shop\n"), Some(Some("shop".into())));
        assert_eq!(use_db(b"SET NAMES utf8; USE b;\n"), Some(None));
        assert_eq!(use_db(b"/*!40101 SET NAMES utf8mb4 */;\n"), None);
    }
}
