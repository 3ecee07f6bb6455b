//! The entrypoints restoredrill puts in front of an image's own: one that
//! unpacks a ready data directory before the server starts (see
//! [`super::template`]), one that holds the server until a physical backup
//! is in place (see [`super::physical`]). Both end by running the image's
//! own entrypoint with the container's arguments.

use std::path::Path;

use bollard::Docker;
use bollard::query_parameters::UploadToContainerOptionsBuilder;

use super::RestoreError;
use super::spec::ContainerSpec;

/// The data directory's archive inside the candidate, until it is unpacked.
pub(super) const TEMPLATE_ARCHIVE: &str = "/restoredrill-template.tar.gz";
/// Created once everything is in place: the held entrypoint goes on.
pub(crate) const GO: &str = "/tmp/restoredrill-go";
/// While it exists, a held candidate started again waits even though
/// [`GO`] is there: restoredrill puts it into a stopped candidate to work in
/// it once more before its server starts again.
pub(crate) const HOLD_AGAIN: &str = "/tmp/restoredrill-hold-again";

/// The entrypoint of a candidate made from a template: unpack the archive
/// into the data mount (never over a file already there), delete it, then
/// run the image's own entrypoint with the container's arguments.
pub async fn unpacking_entrypoint(
    docker: &Docker,
    spec: &ContainerSpec,
) -> Result<Vec<String>, RestoreError> {
    let image = docker
        .inspect_image(&spec.image)
        .await
        .map_err(RestoreError::Docker)?;
    let own = image.config.and_then(|c| c.entrypoint).unwrap_or_default();
    let script = format!(
        "set -e\nif [ -f {TEMPLATE_ARCHIVE} ]; then tar -xzkf {TEMPLATE_ARCHIVE} -C {}; rm -f {TEMPLATE_ARCHIVE}; fi\nexec \"$@\"",
        shell_quote(&spec.data_mount)
    );
    let mut entrypoint = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        script,
        "restoredrill-unpack".to_string(),
    ];
    entrypoint.extend(own);
    Ok(entrypoint)
}

/// Copies the template's archive into the created, not yet started container.
pub async fn upload_template(
    docker: &Docker,
    id: &str,
    archive: &Path,
) -> Result<(), RestoreError> {
    let rejected = |detail: String| RestoreError::TemplateRejected {
        archive: archive.display().to_string(),
        detail,
    };
    let file = tokio::fs::File::open(archive)
        .await
        .map_err(|e| rejected(format!("cannot open it: {e}")))?;
    let opts = UploadToContainerOptionsBuilder::default().path("/").build();
    let body = bollard::body_try_stream(tokio_util::io::ReaderStream::new(file));
    match docker.upload_to_container(id, Some(opts), body).await {
        Ok(()) => Ok(()),
        // The engine answered and refused the archive (a cut or foreign tar).
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        }) if (400..500).contains(&status_code) || message.contains("tar") => Err(rejected(
            format!("Docker refused it ({status_code}): {message}"),
        )),
        // No answer, a timeout: nothing is known of the archive.
        Err(e) => Err(RestoreError::Docker(e)),
    }
}

/// The entrypoint of a held candidate: wait for the go file (and, when the
/// candidate is started again, for [`HOLD_AGAIN`] to go), then run the
/// image's own entrypoint with the container's arguments.
pub async fn holding_entrypoint(docker: &Docker, image: &str) -> Result<Vec<String>, RestoreError> {
    let inspected = docker
        .inspect_image(image)
        .await
        .map_err(RestoreError::Docker)?;
    let own = inspected
        .config
        .and_then(|c| c.entrypoint)
        .unwrap_or_default();
    let script =
        format!("while [ ! -e {GO} ] || [ -e {HOLD_AGAIN} ]; do sleep 0.1; done\nexec \"$@\"");
    let mut entrypoint = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        script,
        "restoredrill-hold".to_string(),
    ];
    entrypoint.extend(own);
    Ok(entrypoint)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unpacking_script_quotes_the_data_mount() {
        assert_eq!(shell_quote("/var/lib/mysql"), "'/var/lib/mysql'");
        assert_eq!(shell_quote("/a'b"), r"'/a'\''b'");
    }
}
