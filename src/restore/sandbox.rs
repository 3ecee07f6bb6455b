//! The sandbox every database container runs in, and the relay that is its
//! only way in.
//!
//! A dump is untrusted, and whatever it holds runs as the database's
//! superuser: pg_restore runs an archive's statements unscreened, and a
//! superuser can start programs (`COPY ... TO PROGRAM`), open connections
//! (`dblink`, FederatedX tables) and write files. A restored database can
//! also run the dump's code later, when someone queries the kept restore (a
//! `SECURITY DEFINER` function behind a view). So every database container,
//! candidate and kept restore alike:
//!
//! - is alone on an internal bridge network of its own whose bridge has no
//!   address on the host (`com.docker.network.bridge.inhibit_ipv4`): it has
//!   no route to the host, to other containers or anywhere else. Its DNS
//!   server is its own loopback, so Docker's resolver forwards no name it asks
//!   for to the host's resolver;
//! - has every capability dropped but the few its image's entrypoint needs as
//!   root to hand the data directory to the database user, runs with
//!   `no-new-privileges` and a PIDs limit.
//!
//! Its database port is reached through a relay: a second container, from the
//! same image, running a short perl program of restoredrill's (none of the
//! dump's code runs there) on that network and on Docker's default bridge. The
//! relay publishes the port on 127.0.0.1 and forwards only connections from the
//! host (they come from the default bridge's gateway), so other containers
//! cannot reach the database either. Being a container, the relay outlives
//! restoredrill: a kept restore stays reachable after `restoredrill run` exits.
//!
//! This module does not decide when containers are made or removed; the
//! guard in `container` does.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkConnectRequest, NetworkCreateRequest,
    NetworkingConfig, PortBinding,
};
use bollard::query_parameters::CreateContainerOptionsBuilder;

use super::RestoreError;
use super::docker;
use super::spec::LABEL_ROLE;

/// The role label of a relay container.
pub const RELAY_ROLE: &str = "relay";
/// On a relay: the name of the database container it serves.
pub const LABEL_RELAY_FOR: &str = "restoredrill.relay_for";

/// What the images' entrypoints do as root before they drop to the database
/// user: chown and chmod the data directory (CHOWN, FOWNER), switch user
/// (SETUID, SETGID); restoredrill's own commands in the container run as root
/// and stage archives in the database user's folder (DAC_OVERRIDE). The
/// server itself, and so every program a dump starts, runs as the database
/// user and holds none of them.
const CAPABILITIES: &[&str] = &["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"];
/// Enough for pg_restore's parallel jobs and MariaDB's threads; a fork bomb stops here.
const PIDS_LIMIT: i64 = 512;
/// One process per open connection, plus the listener.
const RELAY_PIDS_LIMIT: i64 = 256;
/// How long a relay may take to listen.
const RELAY_START: Duration = Duration::from_secs(15);

/// Forwards the port given as its second argument to the same port of the
/// host named by its first, for connections from the default gateway only:
/// the host, through the published port. One process per connection.
const RELAY_SCRIPT: &str = r#"
use strict; use warnings; use IO::Socket::INET; use IO::Select; use Socket qw(inet_ntoa);
my ($host, $port) = @ARGV;
my $gateway;
open my $routes, '<', '/proc/net/route' or die "relay: cannot read /proc/net/route: $!\n";
while (<$routes>) {
  my @f = split;
  $gateway = inet_ntoa(pack 'V', hex $f[2]) if $f[1] eq '00000000';
}
die "relay: no default route, so no host to accept connections from\n" unless $gateway;
$SIG{CHLD} = 'IGNORE';
$| = 1;
my $listener = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => $port, Listen => 128, ReuseAddr => 1)
  or die "relay: cannot listen on port $port: $!\n";
print "relay: listening on port $port for $gateway, forwarding to $host\n";
while (1) {
  my $client = $listener->accept or next;
  my $peer = $client->peerhost // '';
  if ($peer ne $gateway) { print "relay: refused a connection from $peer\n"; close $client; next }
  my $pid = fork;
  if (!defined $pid || $pid) { close $client; next }
  close $listener;
  my $server = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Timeout => 10) or exit 0;
  my %to = (fileno($client) => $server, fileno($server) => $client);
  my $select = IO::Select->new($client, $server);
  while ($select->count && (my @ready = $select->can_read)) {
    for my $from (@ready) {
      my $out = $to{fileno $from};
      my $n = sysread($from, my $buf, 65536);
      if (!$n) { $select->remove($from); shutdown($out, 1); next }
      for (my $off = 0; $off < $n;) {
        my $w = syswrite($out, $buf, $n - $off, $off);
        exit 0 unless defined $w;
        $off += $w;
      }
    }
  }
  exit 0;
}
"#;

/// The relay of the database container `db`.
pub fn relay_name(db: &str) -> String {
    format!("{db}-relay")
}

/// The database container's name on its own network, for its relay: container
/// names can be longer than the 63 characters a DNS label may have.
const DATABASE_ALIAS: &str = "database";

/// How a database container joins its own `network`.
pub fn networking(network: &str) -> NetworkingConfig {
    NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            network.to_string(),
            EndpointSettings {
                aliases: Some(vec![DATABASE_ALIAS.to_string()]),
                ..Default::default()
            },
        )])),
    }
}

/// Restricts a database container: alone on `network`, few capabilities,
/// no new privileges, a PIDs limit.
pub fn confine(host: &mut HostConfig, network: &str) {
    host.network_mode = Some(network.to_string());
    host.dns = Some(vec!["127.0.0.1".into()]);
    host.cap_drop = Some(vec!["ALL".into()]);
    host.cap_add = Some(CAPABILITIES.iter().map(|c| c.to_string()).collect());
    host.security_opt = Some(vec!["no-new-privileges".into()]);
    host.pids_limit = Some(PIDS_LIMIT);
}

/// Creates the database container's own network: internal (no route out)
/// and without an address on the host's side of the bridge (no route to the
/// host either).
pub async fn create_network(
    docker: &Docker,
    name: &str,
    labels: &HashMap<String, String>,
) -> Result<(), RestoreError> {
    docker
        .create_network(NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            internal: Some(true),
            labels: Some(labels.clone()),
            options: Some(HashMap::from([(
                "com.docker.network.bridge.inhibit_ipv4".to_string(),
                "true".to_string(),
            )])),
            ..Default::default()
        })
        .await
        .map(|_| ())
        .map_err(|e| match e.to_string() {
            m if m.contains("address pool") => RestoreError::Unexpected(format!(
                "Docker has no address range left for the restore's own network ({m}); \
                 every candidate and kept restore takes one: remove unused networks \
                 (`docker network prune`) or give Docker more with `default-address-pools` \
                 in /etc/docker/daemon.json"
            )),
            _ => RestoreError::Docker(e),
        })
}

pub async fn remove_network(docker: &Docker, name: &str) {
    match docker.remove_network(name).await {
        Ok(())
        | Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(e) => tracing::error!(network = name, error = %e, "could not remove network"),
    }
}

/// Creates and starts the relay of database container `db` (on network `db`,
/// database port `port`) from `image`, waits until it listens, and returns the
/// port it is published on at 127.0.0.1. On failure the caller removes it.
pub async fn start_relay(
    docker: &Docker,
    db: &str,
    image: &str,
    port: u16,
    labels: &HashMap<String, String>,
) -> Result<u16, RestoreError> {
    let name = relay_name(db);
    let mut labels = labels.clone();
    labels.insert(LABEL_ROLE.to_string(), RELAY_ROLE.to_string());
    labels.insert(LABEL_RELAY_FOR.to_string(), db.to_string());
    let port_key = format!("{port}/tcp");
    let host = HostConfig {
        network_mode: Some("bridge".into()),
        port_bindings: Some(HashMap::from([(
            port_key.clone(),
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: Some(String::new()),
            }]),
        )])),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges".into()]),
        pids_limit: Some(RELAY_PIDS_LIMIT),
        readonly_rootfs: Some(true),
        // The relay joins two networks; it must not route between them.
        sysctls: Some(HashMap::from([(
            "net.ipv4.ip_forward".to_string(),
            "0".to_string(),
        )])),
        ..Default::default()
    };
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(vec!["perl".into()]),
        cmd: Some(vec![
            "-e".into(),
            RELAY_SCRIPT.into(),
            DATABASE_ALIAS.to_string(),
            port.to_string(),
        ]),
        user: Some("65534:65534".into()),
        labels: Some(labels),
        exposed_ports: Some(vec![port_key.clone()]),
        host_config: Some(host),
        ..Default::default()
    };
    let opts = CreateContainerOptionsBuilder::default().name(&name).build();
    docker
        .create_container(Some(opts), body)
        .await
        .map_err(RestoreError::Docker)?;
    docker
        .connect_network(
            db,
            NetworkConnectRequest {
                container: name.clone(),
                endpoint_config: None,
            },
        )
        .await
        .map_err(RestoreError::Docker)?;
    docker
        .start_container(
            &name,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .map_err(RestoreError::Docker)?;
    wait_listening(docker, &name).await?;
    docker::published_port(docker, &name, &port_key).await
}

/// Waits until the relay says it listens; fails at once if it exited.
async fn wait_listening(docker: &Docker, relay: &str) -> Result<(), RestoreError> {
    let started = tokio::time::Instant::now();
    loop {
        let log = docker::logs_tail(docker, relay, 5).await;
        if log.contains("relay: listening") {
            return Ok(());
        }
        let info = docker
            .inspect_container(relay, None)
            .await
            .map_err(RestoreError::Docker)?;
        let running = info.state.and_then(|s| s.running).unwrap_or(false);
        if !running || started.elapsed() > RELAY_START {
            return Err(RestoreError::Unexpected(format!(
                "the relay container {relay}, which publishes the database port, did not start \
                 (it runs `perl` from the job's image, with IO::Socket::INET); its log ends with:\n{log}"
            )));
        }
        // Perl starts in well under a second; polling often saves most of a pause.
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
