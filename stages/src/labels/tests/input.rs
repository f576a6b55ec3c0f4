use std::sync::Arc;

use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use super::support::{counts_table, map_table, scalar_table};
use crate::labels::input::{read_artist_map, read_counts, read_scalars, Origin};

const TAG: Origin = Origin {
    slot: "labels",
    source: "tag",
};

#[test]
fn counts_are_summed_sorted_and_unlabelled_tracks_counted() {
    let table = counts_table(&[
        ("t2", Some("rock"), Some(2.0)),
        ("t1", Some("pop"), Some(1.0)),
        ("t2", Some("rock"), Some(3.0)),
        ("t3", Some("pop"), Some(0.0)), // zero: no label
        ("t4", None, Some(4.0)),        // null item: no label
        ("t5", Some("jazz"), None),     // null count: no label
        ("t1", Some("indie"), Some(1.0)),
    ]);
    let labels = read_counts(&table, TAG).unwrap();
    assert_eq!(labels.tracks, vec!["t1", "t2"]);
    assert_eq!(labels.items, vec!["indie", "pop", "rock"]);
    assert_eq!(labels.left_out, 3);
    assert_eq!(labels.counts.row(0), (&[0u32, 1][..], &[1.0, 1.0][..]));
    assert_eq!(labels.counts.row(1), (&[2u32][..], &[5.0][..]));
}

#[test]
fn bad_counts_name_the_row_track_and_item() {
    let table = counts_table(&[
        ("t1", Some("pop"), Some(1.0)),
        ("t2", Some("rock"), Some(-1.0)),
    ]);
    let err = read_counts(&table, TAG).unwrap_err().to_string();
    assert!(
        err.contains("source tag")
            && err.contains("row 1")
            && err.contains("t2")
            && err.contains("rock"),
        "{err}"
    );

    let table = counts_table(&[("t1", Some("pop"), Some(f64::NAN))]);
    let err = read_counts(&table, TAG).unwrap_err().to_string();
    assert!(err.contains("NaN") && err.contains("t1"), "{err}");

    let table = counts_table(&[("t1", Some("pop"), Some(0.0)), ("t2", None, Some(2.0))]);
    let err = read_counts(&table, TAG).unwrap_err().to_string();
    assert!(
        err.contains("no track has a positive count") && err.contains("2 tracks"),
        "{err}"
    );
}

#[test]
fn wrong_columns_are_errors() {
    let batch = scalar_table(&[("t1", Some(1.0))]);
    let err = read_counts(&batch, TAG).unwrap_err().to_string();
    assert!(
        err.contains("no column `item`") && err.contains("track_id, value"),
        "{err}"
    );

    let schema = Schema::new(vec![
        Field::new("track_id", DataType::Utf8, true),
        Field::new("item", DataType::Utf8, true),
        Field::new("count", DataType::Utf8, true),
    ]);
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from(vec!["t1"])),
            Arc::new(StringArray::from(vec!["pop"])),
            Arc::new(StringArray::from(vec!["3"])),
        ],
    )
    .unwrap();
    let err = read_counts(&batch, TAG).unwrap_err().to_string();
    assert!(err.contains("`count` must be numeric"), "{err}");

    let null_track = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("track_id", DataType::Utf8, true),
            Field::new("value", DataType::Float64, true),
        ])),
        vec![
            Arc::new(StringArray::from(vec![Some("t1"), None])),
            Arc::new(Float64Array::from(vec![1.0, 2.0])),
        ],
    )
    .unwrap();
    let err = read_scalars(&null_track, TAG).unwrap_err().to_string();
    assert!(err.contains("row 1: track_id is null"), "{err}");
}

#[test]
fn integer_ids_and_counts_are_accepted() {
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("track_id", DataType::Int64, false),
            Field::new("item", DataType::Utf8, false),
            Field::new("count", DataType::Int64, false),
        ])),
        vec![
            Arc::new(Int64Array::from(vec![10, 9])),
            Arc::new(StringArray::from(vec!["a", "b"])),
            Arc::new(Int64Array::from(vec![2, 3])),
        ],
    )
    .unwrap();
    let labels = read_counts(&batch, TAG).unwrap();
    assert_eq!(labels.tracks, vec!["10", "9"]);
    assert_eq!(labels.counts.values, vec![2.0, 3.0]);
}

#[test]
fn scalars_null_is_missing_nan_and_conflicts_are_errors() {
    let bpm = Origin {
        slot: "labels",
        source: "bpm",
    };
    let table = scalar_table(&[
        ("b", Some(120.0)),
        ("a", None),
        ("c", Some(90.0)),
        ("b", Some(120.0)),
    ]);
    let labels = read_scalars(&table, bpm).unwrap();
    assert_eq!(labels.tracks, vec!["b", "c"]);
    assert_eq!(labels.values, vec![120.0, 90.0]);
    assert_eq!(labels.left_out, 1);

    let err = read_scalars(
        &scalar_table(&[("a", Some(1.0)), ("x", Some(f64::NAN))]),
        bpm,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("source bpm") && err.contains("row 1 (track x): value is NaN"),
        "{err}"
    );

    let err = read_scalars(&scalar_table(&[("a", Some(1.0)), ("a", Some(2.0))]), bpm)
        .unwrap_err()
        .to_string();
    assert!(err.contains("track a has two values"), "{err}");

    let err = read_scalars(&scalar_table(&[("a", None)]), bpm)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no track has a value"), "{err}");
}

#[test]
fn artist_map_reads_and_rejects_two_artists() {
    let origin = Origin {
        slot: "artist_map",
        source: "artist",
    };
    let map = read_artist_map(
        &map_table(&[
            ("t2", Some("B")),
            ("t1", Some("A")),
            ("t3", None),
            ("t4", Some("A")),
        ]),
        origin,
    )
    .unwrap();
    assert_eq!(map.tracks, vec!["t1", "t2", "t4"]);
    assert_eq!(map.artists, vec!["A", "B"]);
    assert_eq!(map.artist_of, vec![0, 1, 0]);
    assert_eq!(map.left_out, 1);

    let err = read_artist_map(&map_table(&[("t1", Some("A")), ("t1", Some("B"))]), origin)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("track t1 has two artists: A (row 0) and B (row 1)"),
        "{err}"
    );
}
