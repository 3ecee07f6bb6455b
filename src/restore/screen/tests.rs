use super::*;

const PG_HEAD: &str = "--\n-- PostgreSQL database dump\n--\n\n\\restrict AbC123\n\nSET standard_conforming_strings = on;\nSELECT pg_catalog.set_config('search_path', '', false);\n";
const PG_TAIL: &str = "\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict AbC123\n\n";

/// Screens `dump` whole and one byte at a time; both must agree.
fn screen(
    dialect: Dialect,
    dump: &str,
    key: Option<&str>,
) -> (Result<Completion, Refusal>, String) {
    let run = |chunk: usize| {
        let mut s = Screen::new(dialect, Allowances::default(), key.map(String::from));
        let mut out = Vec::new();
        for part in dump.as_bytes().chunks(chunk) {
            let mut o = Vec::new();
            if let Err(r) = s.feed(part, &mut o) {
                return (Err(r), String::from_utf8_lossy(&out).into_owned());
            }
            out.extend(o);
        }
        let done = s.finish(&mut out);
        (done, String::from_utf8_lossy(&out).into_owned())
    };
    let whole = run(dump.len().max(1));
    let bytewise = run(1);
    assert_eq!(whole.0, bytewise.0, "chunking changed the outcome");
    whole
}

fn pg(body: &str) -> String {
    format!("{PG_HEAD}{body}{PG_TAIL}")
}

fn refused(r: (Result<Completion, Refusal>, String)) -> Refusal {
    r.0.expect_err("the dump should be refused")
}

#[test]
fn a_complete_pg_dump_passes_with_copy_data_dollar_quotes_and_comments() {
    let body = "CREATE FUNCTION f() RETURNS text AS $_$ SELECT '\\! not a command'; $x$ $_$ LANGUAGE sql;\n\
        /* a /* nested */ comment with \\! inside */\n\
        COMMENT ON TABLE t IS 'it''s \\ fine';\n\
        COPY public.t (id, note) FROM stdin;\n\
        1\t\\\\! data that looks like a command\n\
        \\! also data\n\
        \\.\n\
        SELECT E'escaped \\' quote \\\\', $1;\n";
    let (done, out) = screen(Dialect::Postgres, &pg(body), None);
    assert_eq!(done, Ok(Completion::Complete));
    assert!(out.contains("\\! also data"), "COPY data passes unchanged");
    assert!(
        !out.contains("\\restrict AbC123"),
        "the dump's own restriction is dropped"
    );
}

#[test]
fn a_pg_dump_cut_at_a_line_or_in_copy_data_misses_its_completion_line() {
    let full = pg("COPY t (id) FROM stdin;\n1\n2\n\\.\nCREATE INDEX i ON t (id);\n");
    for cut in [
        full.find("2\n").unwrap(),
        full.find("CREATE INDEX").unwrap(),
        full.len() - 30,
    ] {
        let (done, _) = screen(Dialect::Postgres, &full[..cut], None);
        match done {
            Ok(Completion::Missing {
                bytes, expected, ..
            }) => {
                assert_eq!(bytes, cut as u64);
                assert_eq!(expected, "pg_dump's completion line");
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    // Text after the completion line means the marker is not the end.
    let (done, _) = screen(
        Dialect::Postgres,
        &format!("{full}CREATE TABLE x ();\n"),
        None,
    );
    assert!(matches!(done, Ok(Completion::Missing { .. })), "{done:?}");
}

#[test]
fn psql_meta_commands_other_than_pg_dumps_are_refused_with_their_line() {
    for (cmd, name) in [
        ("\\set ON_ERROR_STOP off", "\\set"),
        ("\\! id > /tmp/x", "\\!"),
        ("\\o /tmp/out", "\\o"),
        ("\\copy t from program 'id'", "\\copy"),
        ("\\i /etc/passwd", "\\i"),
        ("\\gexec", "\\gexec"),
    ] {
        let r = refused(screen(
            Dialect::Postgres,
            &pg(&format!("CREATE TABLE t ();\n{cmd}\n")),
            None,
        ));
        assert!(r.what.contains(name), "{cmd}: {r}");
        assert_eq!(r.line, 10, "{cmd}: {r}");
    }
    let r = refused(screen(Dialect::Postgres, &pg("SELECT 1; \\! id\n"), None));
    assert!(r.what.contains("after other text"), "{r}");
    // Leading white space does not hide one.
    refused(screen(Dialect::Postgres, &pg("   \\! id\n"), None));
    // Nor does a quote that E'' strings close differently.
    refused(screen(
        Dialect::Postgres,
        &pg("SELECT 'a\\'; \\! id\n"),
        None,
    ));
}

#[test]
fn statements_pg_dump_never_writes_are_refused() {
    for sql in [
        "COPY t FROM PROGRAM 'id';",
        "COPY (SELECT 1) TO PROGRAM 'curl x';",
        "COPY t FROM '/etc/passwd';",
        "CREATE ROLE evil LOGIN SUPERUSER PASSWORD 'x';",
        "ALTER ROLE postgres PASSWORD 'known';",
        "ALTER USER app WITH SUPERUSER;",
        "SET standard_conforming_strings = off;",
        "SELECT set_config('standard_conforming_strings', 'off', false), standard_conforming_strings;",
        "DO $$BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''id'''; END$$;",
        "ALTER SYSTEM SET archive_command = 'id';",
        "LOAD '/tmp/evil.so';",
    ] {
        refused(screen(Dialect::Postgres, &pg(&format!("{sql}\n")), None));
    }
    // These look alike but are fine.
    for sql in [
        "CREATE USER MAPPING FOR app SERVER s OPTIONS (password 'x');",
        "CREATE ROLE superuser;",
        "COMMENT ON TABLE t IS 'COPY t FROM PROGRAM ''id''';",
        "COPY public.t (program) FROM stdin;\n\\.",
        "CREATE TABLE \"do\" (load int, system text);",
        "ALTER TABLE t ALTER system SET DEFAULT 'x';",
    ] {
        let (done, _) = screen(Dialect::Postgres, &pg(&format!("{sql}\n")), None);
        assert_eq!(done, Ok(Completion::Complete), "{sql}");
    }
}

#[test]
fn the_run_key_wraps_the_dump_and_each_connect() {
    let dump = "--\n-- PostgreSQL database cluster dump\n--\n\\restrict K1\n\\connect template1\n\\connect -reuse-previous=on \"dbname='shop'\"\nCREATE TABLE t ();\n--\n-- PostgreSQL database cluster dump complete\n--\n\\unrestrict K1\n";
    let (done, out) = screen(Dialect::Postgres, dump, Some("runkey"));
    assert_eq!(done, Ok(Completion::Complete));
    assert!(out.starts_with("\\restrict runkey\n"), "{out}");
    assert!(
        out.contains("\\unrestrict runkey\n\\connect template1\n\\restrict runkey\n"),
        "{out}"
    );
    assert!(!out.contains("K1"), "{out}");
    // A pg_dumpall dump is complete only with the cluster line.
    let cut = dump.replace("cluster dump complete", "dump complete");
    assert!(matches!(
        screen(Dialect::Postgres, &cut, None).0,
        Ok(Completion::Missing {
            expected: "pg_dumpall's completion line",
            ..
        })
    ));
    let r = refused(screen(
        Dialect::Postgres,
        "\\connect \"host=10.0.0.1 dbname=x\"\n",
        None,
    ));
    assert!(r.what.contains("other than a database by name"), "{r}");
}

const MY_HEAD: &str = "/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.14-MariaDB\n/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n";
const MY_TAIL: &str =
    "/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n\n-- Dump completed on 2026-11-24 10:00:00\n";

fn my(body: &str) -> String {
    format!("{MY_HEAD}{body}{MY_TAIL}")
}

#[test]
fn a_complete_mysqldump_passes_with_triggers_and_escapes() {
    let body = "USE `shop`;\nINSERT INTO `t` VALUES (1,'it\\'s \\\\ ; \\\\! fine',\\N),(2,\"x\",NULL);\n\
        DELIMITER ;;\n/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER t BEFORE INSERT ON t FOR EACH ROW BEGIN\n\
        SET NEW.a = 1;\nsystem_flag: SET NEW.b = 2;\nEND */;;\nDELIMITER ;\n# a comment with system id\nSELECT 1--1;\n";
    let (done, _) = screen(Dialect::Mysql, &my(body), None);
    assert_eq!(done, Ok(Completion::Complete));
    let mut s = Screen::new(Dialect::Mysql, Allowances::default(), None);
    let mut out = Vec::new();
    s.feed(my(body).as_bytes(), &mut out).unwrap();
    assert_eq!(s.databases, vec!["shop".to_string()]);
}

#[test]
fn mysql_client_commands_are_refused() {
    for (cmd, name) in [
        ("system id", "system"),
        ("\\! id", "\\!"),
        ("SOURCE /etc/passwd", "source"),
        ("tee /tmp/x", "tee"),
        ("SELECT 1; \\! id", "\\!"),
        ("SELECT 1--1; \\! id", "\\!"),
        ("/*!50003 SELECT 1 \\! id */;", "\\!"),
    ] {
        let r = refused(screen(Dialect::Mysql, &my(&format!("{cmd}\n")), None));
        assert!(r.what.contains(name), "{cmd}: {r}");
        assert_eq!(r.line, 4, "{cmd}: {r}");
    }
    // The client reads a command name after white space, and on a line
    // after one that held only a comment: so does the screen.
    for (cmd, name, line) in [
        ("  system id", "system", 4),
        ("-- a comment\nsystem id", "system", 5),
        ("# a comment\n\tsource /etc/passwd", "source", 5),
    ] {
        let r = refused(screen(Dialect::Mysql, &my(&format!("{cmd}\n")), None));
        assert!(r.what.contains(name), "{cmd}: {r}");
        assert_eq!(r.line, line, "{cmd}: {r}");
    }
    for sql in [
        "CREATE USER 'x'@'%' IDENTIFIED BY 'y';",
        "GRANT ALL ON *.* TO 'x'@'%';",
        "SET PASSWORD FOR root = PASSWORD('x');",
        "SELECT 'x' INTO OUTFILE '/var/lib/mysql/x';",
        "SELECT 1 INTO DUMPFILE '/tmp/x';",
        "LOAD DATA INFILE '/etc/passwd' INTO TABLE t;",
        "INSERT INTO t VALUES (LOAD_FILE('/etc/passwd'));",
        "INSTALL SONAME 'ha_connect';",
        "CREATE FUNCTION sys_exec RETURNS INT SONAME 'lib_mysqludf_sys.so';",
        "/*!50003 SELECT 1 INTO OUTFILE '/tmp/x' */;",
        "EXECUTE IMMEDIATE 'INSTALL SONAME ''ha_federatedx''';",
        "PREPARE s FROM 'SELECT 1 INTO OUTFILE ''/tmp/x''';",
        "CALL export_everything();",
    ] {
        refused(screen(Dialect::Mysql, &my(&format!("{sql}\n")), None));
    }
    // What mysqldump writes with these words, quoted, passes.
    for sql in [
        "INSERT INTO `outfile` VALUES ('LOAD DATA INFILE', 'INTO OUTFILE');",
        "CREATE TABLE `load_file` (`soname` int, `install` int);",
        "/*!50003 CREATE*/ /*!50020 DEFINER=`root`@`%`*/ /*!50003 PROCEDURE `export`() SELECT * FROM t INTO OUTFILE '/tmp/t.csv' */;",
        "/*!50001 CREATE ALGORITHM=UNDEFINED VIEW `v` AS select load_file('/etc/hostname') AS `h` */;",
    ] {
        let (done, _) = screen(Dialect::Mysql, &my(&format!("{sql}\n")), None);
        assert_eq!(done, Ok(Completion::Complete), "{sql}");
    }
}

#[test]
fn a_mysqldump_cut_anywhere_misses_its_completion_line() {
    let full = my("INSERT INTO `t` VALUES (1),(2);\nINSERT INTO `u` VALUES (3);\n");
    for cut in [
        full.find("INSERT INTO `u`").unwrap(),
        full.find("(2)").unwrap(),
    ] {
        let (done, _) = screen(Dialect::Mysql, &full[..cut], None);
        assert!(
            matches!(
                done,
                Ok(Completion::Missing {
                    expected: "mysqldump's completion line",
                    ..
                })
            ),
            "{done:?}"
        );
    }
}

#[test]
fn pg_dumpall_may_set_passwords_in_its_globals_only() {
    let head =
        "--\n-- PostgreSQL database cluster dump\n--\n\nSET standard_conforming_strings = on;\n";
    let tail = "\n--\n-- PostgreSQL database cluster dump complete\n--\n\n";
    let roles = "CREATE ROLE app;\nALTER ROLE app WITH NOSUPERUSER LOGIN PASSWORD 'SCRAM-SHA-256$4096:x';\n\
        ALTER ROLE postgres WITH SUPERUSER LOGIN PASSWORD 'SCRAM-SHA-256$4096:y';\n";
    let db = "\\connect shop\n\nCREATE TABLE t (id int);\n";
    let (done, _) = screen(Dialect::Postgres, &format!("{head}{roles}{db}{tail}"), None);
    assert_eq!(done, Ok(Completion::Complete));

    // `CREATE ROLE postgres;` would fail on a server that has it: commented out, same length.
    let dump = format!(
        "{head}CREATE ROLE postgres;\nALTER ROLE postgres WITH SUPERUSER PASSWORD 'x';\nCREATE ROLE app;\n{db}CREATE ROLE postgres;\n{tail}"
    );
    for chunk in [1, 7, dump.len()] {
        let mut s = Screen::new(Dialect::Postgres, Allowances::default(), None)
            .server_roles(vec!["postgres".into()]);
        let mut out = Vec::new();
        for part in dump.as_bytes().chunks(chunk) {
            s.feed(part, &mut out).unwrap();
        }
        assert_eq!(s.finish(&mut out), Ok(Completion::Complete));
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out.len(), dump.len());
        assert!(
            out.contains("\n--EATE ROLE postgres;\n--TER ROLE postgres WITH SUPERUSER PASSWORD 'x';\nCREATE ROLE app;\n"),
            "{out}"
        );
        assert!(
            out.contains("CREATE TABLE t (id int);\nCREATE ROLE postgres;\n"),
            "only in the globals: {out}"
        );
    }
    // After the first database, a password is what a database dump never holds.
    let late = format!("{head}{db}ALTER ROLE app WITH PASSWORD 'x';\n{tail}");
    let r = refused(screen(Dialect::Postgres, &late, None));
    assert!(r.what.contains("password"), "{r}");
    // And a one-database dump gets no such leeway.
    let r = refused(screen(Dialect::Postgres, &pg(roles), None));
    assert!(r.what.contains("password"), "{r}");
}
