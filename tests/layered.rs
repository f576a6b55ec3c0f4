//! A local store in front of a shared S3 store.

use crate::scenarios::{small_project, ALL, PIPELINE};
use crate::support::*;

#[test]
fn second_member_pulls_everything_instead_of_recomputing() {
    let mut server = S3Server::start();
    let remote = format!("s3://{BUCKET}/team");
    let mut alice = small_project(&Backend::Local, "alice");
    alice.s3_endpoint = Some(server.endpoint());
    let first = alice.run(&["run", "--json", "--remote", &remote]);
    let first = first.ok();
    assert_eq!(first.nodes("ran"), set(&ALL));

    // Bob: same pipeline and data, an empty local store, the same remote.
    let mut bob = small_project(&Backend::Local, "bob");
    bob.s3_endpoint = Some(server.endpoint());
    let pulled = bob.run(&["run", "--json", "--remote", &remote]).ok();
    assert!(pulled.nodes("ran").is_empty(), "{:?}", pulled.nodes("ran"));
    assert_eq!(pulled.nodes("cached"), set(&ALL));
    assert_eq!(bob.manifest_keys().len(), ALL.len());
    bob.run(&["verify"]).ok();

    // With the remote down, local work still runs and is kept.
    server.stop();
    bob.write(
        "pipeline.yaml",
        &PIPELINE.replace("value: 2.0", "value: 4.0"),
    );
    let offline = bob.run(&["run", "--json", "--remote", &remote]).ok();
    assert_eq!(offline.nodes("ran").len(), 6);
    assert!(
        offline.stderr.contains("remote cache"),
        "{}",
        offline.stderr
    );
}
