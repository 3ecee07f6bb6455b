//! systemd's notification protocol (`sd_notify`), for `Type=notify` units:
//! `READY=1` once the daemon serves, `WATCHDOG=1` while its scheduler is
//! alive (at half of `WatchdogSec=`), `STOPPING=1` when it stops.
//!
//! A notification is one datagram of `KEY=VALUE` lines sent to the unix
//! socket named by `$NOTIFY_SOCKET` (a path, or `@name` in the abstract
//! namespace). Without that variable (not started by systemd, or not as
//! `Type=notify`) there is nothing to tell and nothing is sent. A
//! notification that cannot be sent is logged; it never stops the daemon.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Where notifications go: the service manager's socket.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    target: Target,
}

#[derive(Debug)]
enum Target {
    Path(std::path::PathBuf),
    Abstract(Vec<u8>),
}

impl Notifier {
    /// The notifier `$NOTIFY_SOCKET` names, if it is set.
    pub fn from_env() -> Option<Self> {
        let name = std::env::var_os("NOTIFY_SOCKET").filter(|n| !n.is_empty())?;
        match Self::to(name.as_bytes()) {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(error = %e, "cannot open NOTIFY_SOCKET; systemd will not hear from restoredrill");
                None
            }
        }
    }

    /// A notifier sending to `socket`: a path, or `@name` for the abstract
    /// namespace.
    pub fn to(socket: &[u8]) -> io::Result<Self> {
        let target = match socket.strip_prefix(b"@") {
            Some(name) => Target::Abstract(name.to_vec()),
            None => Target::Path(std::path::PathBuf::from(std::ffi::OsStr::from_bytes(
                socket,
            ))),
        };
        let socket = UnixDatagram::unbound()?;
        // A full queue must not stall the runtime: the datagram is dropped.
        socket.set_nonblocking(true)?;
        Ok(Self { socket, target })
    }

    /// Sends `state`, newline-separated `KEY=VALUE` lines.
    pub fn notify(&self, state: &str) -> io::Result<()> {
        let sent = match &self.target {
            Target::Path(path) => self.socket.send_to(state.as_bytes(), path)?,
            Target::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                self.socket.send_to_addr(state.as_bytes(), &addr)?
            }
        };
        if sent < state.len() {
            return Err(io::Error::other("the notification was cut short"));
        }
        Ok(())
    }

    /// Sends `state`, logging (not returning) a failure.
    pub fn tell(&self, state: &str) {
        if let Err(e) = self.notify(state) {
            let what = state.lines().next().unwrap_or_default();
            tracing::warn!(error = %e, notification = what, "cannot notify systemd");
        }
    }
}

/// How often to send `WATCHDOG=1`: half of `$WATCHDOG_USEC`, when systemd
/// set it for this process (`$WATCHDOG_PID` unset or ours).
pub fn watchdog_interval() -> Option<Duration> {
    let var = |name| std::env::var(name).ok();
    watchdog_interval_from(
        var("WATCHDOG_USEC").as_deref(),
        var("WATCHDOG_PID").as_deref(),
        std::process::id(),
    )
}

fn watchdog_interval_from(usec: Option<&str>, pid: Option<&str>, own_pid: u32) -> Option<Duration> {
    if pid.is_some_and(|p| p.trim().parse::<u32>().ok() != Some(own_pid)) {
        return None;
    }
    let usec: u64 = usec?.trim().parse().ok().filter(|u| *u > 0)?;
    Some(Duration::from_micros(usec) / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive(rx: &UnixDatagram) -> String {
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 512];
        let n = rx.recv(&mut buf).expect("a notification arrives");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn ready_reaches_a_socket_bound_at_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::to(path.as_os_str().as_bytes()).unwrap();
        notifier.notify("READY=1\nSTATUS=serving").unwrap();
        assert_eq!(receive(&rx), "READY=1\nSTATUS=serving");
        notifier.tell("WATCHDOG=1");
        assert_eq!(receive(&rx), "WATCHDOG=1");
    }

    #[test]
    fn an_at_sign_names_a_socket_in_the_abstract_namespace() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("restoredrill-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        let notifier = Notifier::to(format!("@{name}").as_bytes()).unwrap();
        notifier.notify("STOPPING=1").unwrap();
        assert_eq!(receive(&rx), "STOPPING=1");
    }

    #[test]
    fn a_socket_nobody_listens_on_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone.sock");
        let notifier = Notifier::to(path.as_os_str().as_bytes()).unwrap();
        assert!(notifier.notify("READY=1").is_err());
    }

    #[test]
    fn the_watchdog_is_pinged_at_half_its_timeout_when_it_watches_this_process() {
        assert_eq!(
            watchdog_interval_from(Some("60000000"), None, 42),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            watchdog_interval_from(Some("60000000"), Some("42"), 42),
            Some(Duration::from_secs(30))
        );
        // Another process's watchdog (inherited from a parent).
        assert_eq!(
            watchdog_interval_from(Some("60000000"), Some("7"), 42),
            None
        );
        assert_eq!(watchdog_interval_from(None, None, 42), None);
        assert_eq!(watchdog_interval_from(Some("0"), None, 42), None);
        assert_eq!(watchdog_interval_from(Some("soon"), None, 42), None);
    }
}
