//! S3 create-only puts of a large blob that is already there (issue 16,
//! item 3): s3s-fs may answer 412 before reading the body, which a client
//! saw as a broken request. Two nodes with different keys producing the
//! same multi-megabyte table (one CSV read as commas, the same rows as tabs)
//! put the same blob twice, one after the other.

use crate::support::*;

#[test]
fn a_large_blob_put_twice_on_s3_is_one_blob_and_no_failure() {
    let server = S3Server::start();
    let p = Project::new(&server.backend(), "reput");
    // About 30 MB of incompressible text: 800k distinct 32-hex ids (a 4 MB
    // blob did not show the failure; this one did, on every run).
    let mut csv = String::from("id,n\n");
    for i in 0..800_000u32 {
        let h = blake3::hash(&i.to_le_bytes()).to_hex();
        csv.push_str(&format!("{},{i}\n", &h[..32]));
    }
    p.write("big.csv", &csv);
    p.write("big.tsv", &csv.replace(',', "\t"));
    p.write(
        "pipeline.yaml",
        "nodes:\n  - name: first\n    stage: read_csv\n    params: {path: big.csv}\n  \
         - name: second\n    stage: read_csv\n    params: {path: big.tsv, delimiter: \"\\t\"}\n",
    );
    let ran = p.run(&["run", "--json", "--jobs", "1"]).ok();
    assert_eq!(ran.nodes("ran"), set(&["first", "second"]));
    let (a, b) = (
        p.blob_of(&key_of(&ran.json(), "first"), "table"),
        p.blob_of(&key_of(&ran.json(), "second"), "table"),
    );
    assert_eq!(a, b, "one blob for both");
    assert!(std::fs::metadata(&a).unwrap().len() > 1 << 20);
    p.run(&["verify"]).ok();
}
