//! The daemon under systemd (`Type=notify`, `StateDirectory=`): a real
//! unix datagram socket stands in for systemd's `$NOTIFY_SOCKET`.

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use common::*;

fn next_notification(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 1024];
    let n = socket
        .recv(&mut buf)
        .expect("a notification within the socket's timeout");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn the_daemon_tells_systemd_it_is_ready_pings_the_watchdog_and_says_it_is_stopping() {
    let _docker = require_docker().await;
    let app = App::new("systemd");
    let jobs = format!(
        "  - name: JOB(a)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    keep: false\n",
        app.path("dumps").display()
    );
    let path = app.write_daemon_config(0, &jobs);
    // No state_dir in the config: the daemon takes systemd's StateDirectory=.
    let text = std::fs::read_to_string(&path).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("state_dir:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, text).unwrap();
    let state_directory = app.path("var-lib-restoredrill");
    std::fs::create_dir(&state_directory).unwrap();
    let socket_path = app.path("notify.sock");
    let systemd = UnixDatagram::bind(&socket_path).unwrap();
    systemd
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();

    let mut daemon = app
        .start_daemon_env(&[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
            ("STATE_DIRECTORY", state_directory.to_str().unwrap()),
        ])
        .await;
    let ready = next_notification(&systemd);
    assert!(ready.starts_with("READY=1\n"), "{ready}");
    // Every half second (half of WATCHDOG_USEC) while the scheduler runs.
    for _ in 0..3 {
        assert_eq!(next_notification(&systemd), "WATCHDOG=1");
    }
    assert!(
        state_directory.join("history.sqlite").exists(),
        "the history is in $STATE_DIRECTORY"
    );

    daemon.signal("TERM");
    let mut last = next_notification(&systemd);
    while last == "WATCHDOG=1" {
        last = next_notification(&systemd);
    }
    assert_eq!(last, "STOPPING=1");
    let status = daemon
        .wait_exit(Duration::from_secs(30))
        .expect("the daemon exits after SIGTERM");
    assert!(status.success(), "{status:?}\n{}", daemon.log());
}
