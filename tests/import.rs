//! Importers end to end: a folder tree enters the key by its listing.

use crate::support::*;

const PIPELINE: &str = r#"
nodes:
  - name: gtzan
    stage: import_folders
    params: {root: genres}
  - name: audio
    stage: fetch
    inputs: {tracks: gtzan}
"#;

#[test]
fn a_folder_tree_re_runs_its_importer_when_a_file_is_added() {
    let p = Project::new(&Backend::Local, "import");
    p.write("pipeline.yaml", PIPELINE);
    p.write("genres/blues/blues.00000.wav", "RIFF blues");
    p.write("genres/rock/rock.00000.wav", "RIFF rock");
    p.write("genres/bextract.mf", "not audio");
    assert_eq!(
        p.run(&["run", "--json"]).ok().nodes("ran"),
        set(&["gtzan", "audio"])
    );
    let shown = p.run(&["show", "gtzan"]).ok().stdout;
    assert!(
        shown.contains("table: 2 rows") && shown.contains("genres/rock/rock.00000.wav"),
        "{shown}"
    );
    assert!(shown.contains("\"ignored_files\": 1"), "{shown}");

    // Hidden files are not data: nothing runs.
    p.write("genres/rock/._rock.00000.wav", "AppleDouble");
    assert!(p.run(&["run", "--json"]).ok().nodes("ran").is_empty());

    p.write("genres/rock/rock.00001.wav", "RIFF rock 2");
    let ran = p.run(&["run", "--json"]).ok();
    assert_eq!(ran.nodes("ran"), set(&["gtzan", "audio"]));
    assert!(
        ran.stderr.contains("input file `genres` changed"),
        "{}",
        ran.stderr
    );
    let shown = p.run(&["show", "audio"]).ok().stdout;
    assert!(shown.contains("\"fetched\": 3"), "{shown}");

    // The root obeys the roots of any local file.
    p.write(
        "pipeline.yaml",
        &PIPELINE.replace("root: genres", "root: /etc"),
    );
    let refused = p.run(&["status"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("node `gtzan`: parameter `root`: /etc is outside the pipeline's directory"),
        "{}",
        refused.stderr
    );
}
