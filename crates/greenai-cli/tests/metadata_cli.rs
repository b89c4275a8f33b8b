//! `greenai detect --cloud-metadata` against a local stand-in for the clouds' instance metadata
//! services, serving each provider's documented request (and refusing a request without its
//! header or token), on 127.0.0.1 (issue 25).

mod loopback;
mod util;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, put};
use axum::Router;
use loopback::{serve, Loopback};
use util::*;

/// Which provider the stand-in plays.
#[derive(Clone, Copy)]
enum Plays {
    Aws,
    Gcp,
}

fn has(h: &HeaderMap, k: &str, v: &str) -> bool {
    h.get(k).and_then(|x| x.to_str().ok()) == Some(v)
}

fn app(plays: Plays) -> Router {
    match plays {
        Plays::Aws => Router::new()
            .route(
                "/latest/api/token",
                put(|h: HeaderMap| async move {
                    if h.contains_key("x-aws-ec2-metadata-token-ttl-seconds") {
                        (StatusCode::OK, "TOKEN-1")
                    } else {
                        (StatusCode::BAD_REQUEST, "")
                    }
                }),
            )
            .route(
                "/latest/meta-data/instance-type",
                get(|h: HeaderMap| async move {
                    if has(&h, "x-aws-ec2-metadata-token", "TOKEN-1") {
                        (StatusCode::OK, "c6a.large")
                    } else {
                        (StatusCode::UNAUTHORIZED, "")
                    }
                }),
            ),
        Plays::Gcp => Router::new().route(
            "/computeMetadata/v1/instance/machine-type",
            get(|h: HeaderMap| async move {
                if has(&h, "metadata-flavor", "Google") {
                    (
                        StatusCode::OK,
                        "projects/123/zones/europe-west1-b/machineTypes/n2-standard-4",
                    )
                } else {
                    (StatusCode::FORBIDDEN, "")
                }
            }),
        ),
    }
}

fn stand_in(plays: Plays) -> Loopback {
    serve(app(plays))
}

#[test]
fn the_metadata_service_names_the_instance_the_machine_does_not() {
    // AWS: IMDSv2's token, then the type; the bundled table knows it.
    let aws = stand_in(Plays::Aws);
    let o = greenai()
        .env("GREENAI_CLOUD_METADATA_URL", &aws.base)
        .args(["detect", "--cloud-metadata"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("cloud metadata: AWS c6a.large"), "{out}");
    assert!(out.contains("its CPU family: AMD EPYC 3rd Gen"), "{out}");
    assert!(out.contains("its embodied default: AWS c6a.large"), "{out}");
    let v = json_of(
        &greenai()
            .env("GREENAI_CLOUD_METADATA_URL", &aws.base)
            .args(["detect", "--cloud-metadata", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(v["cloud_metadata"]["instance"], "c6a.large", "{v}");
    assert_eq!(v["cloud_metadata"]["known"], true);

    // Google: the machine type's last path segment, which the bundled table knows.
    let gcp = stand_in(Plays::Gcp);
    let o = greenai()
        .env("GREENAI_CLOUD_METADATA_URL", &gcp.base)
        .args(["detect", "--cloud-metadata"])
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(
        out.contains("cloud metadata: Google Cloud n2-standard-4\n"),
        "{out}"
    );
    assert!(out.contains("its CPU family: Cascade Lake"), "{out}");
    assert!(
        out.contains("its embodied default: Google Cloud n2-standard-4"),
        "{out}"
    );

    // Nothing answering: a line that says so, and detection stands (exit 0).
    drop(aws);
    let o = greenai()
        .env("GREENAI_CLOUD_METADATA_URL", "http://127.0.0.1:9")
        .args(["detect", "--cloud-metadata"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("cloud metadata: no cloud metadata service gave an instance type"),
        "{}",
        stdout(&o)
    );
    // Without the flag, no request is made: the stand-in sees nothing to answer (its absence
    // is no error) and the output has no metadata line.
    let plain = stdout(&greenai().arg("detect").output().unwrap());
    assert!(!plain.contains("cloud metadata"), "{plain}");
}
