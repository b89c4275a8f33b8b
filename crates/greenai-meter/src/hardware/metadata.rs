//! The opt-in query of a cloud provider's instance metadata service, for the instance type a
//! machine does not name locally (Google Compute Engine and Azure write only the provider into
//! their DMI strings). Never called unless asked (`greenai detect --cloud-metadata`): it is a
//! network call, to the link-local address every provider serves its metadata on.
//!
//! Each provider's documented request: AWS IMDSv2 (a session token from `PUT /latest/api/token`,
//! then `GET /latest/meta-data/instance-type` with it), Google's
//! `GET /computeMetadata/v1/instance/machine-type` with `Metadata-Flavor: Google`, Azure's
//! `GET /metadata/instance/compute/vmSize?api-version=2021-02-01&format=text` with `Metadata: true`.

use super::cloud::{instance, CloudMachine, Provider};
use std::time::Duration;

/// Where every provider serves instance metadata.
pub const DEFAULT_BASE: &str = "http://169.254.169.254";
/// Moves the base (a local stand-in in tests, or a proxy).
pub const BASE_ENV: &str = "GREENAI_CLOUD_METADATA_URL";
/// Each request's limit: a machine outside a cloud gets no answer, and should not wait for one.
const TIMEOUT: Duration = Duration::from_secs(1);
/// An instance type is a short name; anything longer is not one.
const MAX_BYTES: u64 = 4096;

/// The base URL: `$GREENAI_CLOUD_METADATA_URL`, else [`DEFAULT_BASE`].
pub fn base_from_env() -> String {
    std::env::var(BASE_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_BASE.to_string())
}

/// Asks the metadata service at `base` for the instance type: the provider `first` (the one the
/// DMI strings name) first, then the others. An EC2 type comes back with its row in the bundled
/// table where it has one.
pub fn query(base: &str, first: Option<Provider>) -> Result<CloudMachine, String> {
    let mut order = vec![Provider::Aws, Provider::Gcp, Provider::Azure];
    if let Some(p) = first {
        order.retain(|q| *q != p);
        order.insert(0, p);
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .user_agent(concat!("greenai/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let base = base.trim_end_matches('/');
    let mut failed = Vec::new();
    for p in order {
        match ask(&agent, base, p) {
            Ok(t) => {
                return Ok(CloudMachine {
                    provider: p,
                    known: instance(p, &t),
                    instance: Some(t),
                })
            }
            Err(e) => failed.push(format!("{p}: {e}")),
        }
    }
    Err(format!(
        "no cloud metadata service gave an instance type at {base} ({})",
        failed.join("; ")
    ))
}

fn text(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<String, String> {
    let mut resp = resp.map_err(|e| match e {
        ureq::Error::StatusCode(code) => format!("HTTP {code}"),
        other => other.to_string(),
    })?;
    resp.body_mut()
        .with_config()
        .limit(MAX_BYTES)
        .read_to_string()
        .map(|s| s.trim().to_string())
        .map_err(|e| e.to_string())
}

fn ask(agent: &ureq::Agent, base: &str, p: Provider) -> Result<String, String> {
    let name = match p {
        Provider::Aws => {
            let token = text(
                agent
                    .put(format!("{base}/latest/api/token"))
                    .header("X-aws-ec2-metadata-token-ttl-seconds", "60")
                    .send_empty(),
            )?;
            text(
                agent
                    .get(format!("{base}/latest/meta-data/instance-type"))
                    .header("X-aws-ec2-metadata-token", token.as_str())
                    .call(),
            )?
        }
        Provider::Gcp => {
            let path = text(
                agent
                    .get(format!("{base}/computeMetadata/v1/instance/machine-type"))
                    .header("Metadata-Flavor", "Google")
                    .call(),
            )?;
            // projects/NUMBER/zones/ZONE/machineTypes/TYPE
            path.rsplit('/').next().unwrap_or_default().to_string()
        }
        Provider::Azure => text(
            agent
                .get(format!(
                    "{base}/metadata/instance/compute/vmSize?api-version=2021-02-01&format=text"
                ))
                .header("Metadata", "true")
                .call(),
        )?,
    };
    let plausible = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if plausible {
        Ok(name)
    } else {
        Err(format!("the answer {name:?} is not an instance type"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_listening_is_a_clear_error_and_quick() {
        // A port nothing listens on (bound, then closed): refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t = std::time::Instant::now();
        let err = query(&format!("http://127.0.0.1:{port}"), Some(Provider::Gcp)).unwrap_err();
        assert!(err.starts_with("no cloud metadata service"), "{err}");
        // The DMI's provider is asked first.
        assert!(
            err.find("Google Cloud").unwrap() < err.find("AWS").unwrap(),
            "{err}"
        );
        assert!(t.elapsed() < Duration::from_secs(10));
    }
}
