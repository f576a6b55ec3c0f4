//! `import_lastfm_tags`: the Last.fm dataset's `lastfm_tags.db` -> label
//! counts (track_id, item = tag, count = Last.fm's 0-100 tag weight), the
//! `tag` learning source.
//!
//! The database is SQLite with three tables: `tids(tid)` and `tags(tag)`,
//! one track id or tag per row, and `tid_tag(tid, tag, val)`, whose `tid`
//! and `tag` are row ids of the other two. It is opened from the bytes the
//! engine hands the stage (SQLite's deserialisation, read-only), and read in
//! `tid_tag`'s row order. A `tid_tag` row naming a track or tag that is not
//! there, or without a weight, is left out and counted; a database without
//! these tables and columns, a weight that is not a non-negative number, or
//! a track id that cannot be one fails the node, naming the table, row and
//! column.

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::{at, path_param, source, track_id, Rejections, Triples, TABLE};
use crate::api::*;
use crate::contracts::{shown, Contract};

pub struct ImportLastfmTags;

impl Stage for ImportLastfmTags {
    fn name(&self) -> &'static str {
        "import_lastfm_tags"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "The Last.fm dataset's lastfm_tags.db (SQLite) as label counts: item = tag, \
         count = tag weight."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[path_param("the Last.fm dataset's `lastfm_tags.db`")];
        PARAMS
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        TABLE
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let (file, bytes) = source(ctx, "path")?;
        let db = open(file, bytes)?;
        let sqlite = |e: rusqlite::Error| StageError::Data(format!("{file}: {e}"));
        for (table, columns) in [
            ("tids", "tid"),
            ("tags", "tag"),
            ("tid_tag", "tid, tag, val"),
        ] {
            db.prepare(&format!("SELECT {columns} FROM {table} LIMIT 0"))
                .map_err(|e| {
                    StageError::Data(format!(
                        "{file}: not Last.fm's tags database: it needs a table `{table}` with \
                         columns {columns} ({e})"
                    ))
                })?;
        }
        let mut query = db
            .prepare(
                "SELECT tid_tag.rowid, tids.tid, tags.tag, tid_tag.val FROM tid_tag \
                 LEFT JOIN tids ON tids.rowid = tid_tag.tid \
                 LEFT JOIN tags ON tags.rowid = tid_tag.tag \
                 ORDER BY tid_tag.rowid",
            )
            .map_err(sqlite)?;
        let mut rows = query.query([]).map_err(sqlite)?;
        let mut triples = Triples::new(Contract::LabelCounts);
        let mut rejections = Rejections::default();
        while let Some(row) = rows.next().map_err(sqlite)? {
            let rowid: i64 = row.get(0).map_err(sqlite)?;
            let place = |column: &str| format!("table `tid_tag`, row {rowid}, column `{column}`");
            let text = |i: usize, column: &str| -> Result<Option<String>, StageError> {
                match row.get_ref(i).map_err(sqlite)? {
                    ValueRef::Null => Ok(None),
                    ValueRef::Text(t) => Ok(Some(String::from_utf8_lossy(t).into_owned())),
                    other => Err(at(
                        file,
                        place(column),
                        format!("the {column} is {:?}, not text", other.data_type()),
                    )),
                }
            };
            let (Some(tid), Some(tag)) = (text(1, "tid")?, text(2, "tag")?) else {
                rejections.reject("rows naming a track or tag the database lacks", || {
                    (
                        format!("tid_tag row {rowid}"),
                        "no such track or tag".into(),
                    )
                });
                continue;
            };
            let weight = match row.get_ref(3).map_err(sqlite)? {
                ValueRef::Null => {
                    rejections.reject("rows without a weight", || {
                        (format!("tid_tag row {rowid}"), shown(&tid))
                    });
                    continue;
                }
                ValueRef::Integer(n) => n as f64,
                ValueRef::Real(x) => x,
                other => {
                    return Err(at(
                        file,
                        place("val"),
                        format!("the weight is {:?}, not a number", other.data_type()),
                    ))
                }
            };
            if !(weight.is_finite() && weight >= 0.0) {
                return Err(at(
                    file,
                    place("val"),
                    format!("weight {weight} is not a non-negative number"),
                ));
            }
            triples.push(track_id(file, place("tid"), &tid)?, &tag, weight);
        }
        triples.finish(file, rejections)
    }
}

/// The database in `bytes`, read-only.
fn open(file: &str, bytes: &[u8]) -> Result<Connection, StageError> {
    if !bytes.starts_with(b"SQLite format 3\0") {
        return Err(StageError::Data(format!("{file}: not an SQLite database")));
    }
    let failed =
        |e: rusqlite::Error| StageError::Data(format!("{file}: cannot open the database: {e}"));
    let mut db = Connection::open_in_memory().map_err(failed)?;
    db.deserialize_read_exact("main", bytes, bytes.len(), true)
        .map_err(failed)?;
    Ok(db)
}

#[cfg(test)]
mod tests {
    use super::super::test_files::*;
    use super::*;

    /// A lastfm_tags.db as the dataset ships it, written by SQLite.
    fn database(script: &str) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lastfm_tags.db");
        let db = Connection::open(&path).unwrap();
        db.execute_batch(script).unwrap();
        drop(db);
        std::fs::read(path).unwrap()
    }

    const SCHEMA: &str = "CREATE TABLE tids (tid TEXT PRIMARY KEY);
        CREATE TABLE tags (tag TEXT PRIMARY KEY);
        CREATE TABLE tid_tag (tid INT, tag INT, val FLOAT);
        INSERT INTO tids VALUES ('TRAAAAK128F9318786'), ('TRAAAAW128F429D538');
        INSERT INTO tags VALUES ('rock'), ('alternative rock'), ('90s');";

    fn import(bytes: &[u8]) -> Result<Outputs, StageError> {
        run(
            &ImportLastfmTags,
            serde_json::json!({"path": "lastfm_tags.db"}),
            &[("path", bytes)],
        )
    }

    #[test]
    fn tag_weights_by_track_in_row_order() {
        let db = database(&format!(
            "{SCHEMA}
            INSERT INTO tid_tag VALUES (2, 3, 100.0), (1, 1, 87.0), (1, 2, 5), (1, 9, 1.0),
                                       (7, 1, 3.0), (2, 1, NULL);"
        ));
        let out = import(&db).unwrap();
        assert_eq!(
            texts(&out, "track_id"),
            [
                "TRAAAAW128F429D538",
                "TRAAAAK128F9318786",
                "TRAAAAK128F9318786"
            ]
        );
        assert_eq!(texts(&out, "item"), ["90s", "rock", "alternative rock"]);
        assert_eq!(numbers(&out, "count"), [100.0, 87.0, 5.0]);
        assert_eq!(out.metadata["rejected_rows"], 3);
        assert_eq!(
            warnings(&out),
            [
                "lastfm_tags.db: 2 rows naming a track or tag the database lacks, left out: \
                 tid_tag row 4 (no such track or tag), tid_tag row 5 (no such track or tag)",
                "lastfm_tags.db: 1 rows without a weight, left out: \
                 tid_tag row 6 (TRAAAAW128F429D538)"
            ]
        );
    }

    #[test]
    fn a_wrong_database_or_weight_fails_naming_table_row_and_column() {
        let err = error(import(b"track_id,item,count\n"));
        assert_eq!(err, "lastfm_tags.db: not an SQLite database");
        let other = database("CREATE TABLE tids (tid TEXT); CREATE TABLE tags (tag TEXT);");
        let err = error(import(&other));
        assert!(
            err.starts_with(
                "lastfm_tags.db: not Last.fm's tags database: it needs a table `tid_tag` with \
                 columns tid, tag, val"
            ),
            "{err}"
        );
        let negative = database(&format!(
            "{SCHEMA} INSERT INTO tid_tag VALUES (1, 1, 2), (1, 2, -1);"
        ));
        assert_eq!(
            error(import(&negative)),
            "lastfm_tags.db, table `tid_tag`, row 2, column `val`: weight -1 is not a \
             non-negative number"
        );
        let text = database(&format!(
            "{SCHEMA} INSERT INTO tid_tag VALUES (1, 1, 'high');"
        ));
        assert_eq!(
            error(import(&text)),
            "lastfm_tags.db, table `tid_tag`, row 1, column `val`: the weight is Text, not a number"
        );
        let bad_id = database(&format!(
            "{SCHEMA} INSERT INTO tids VALUES ('../x'); INSERT INTO tid_tag VALUES (3, 1, 1);"
        ));
        assert_eq!(
            error(import(&bad_id)),
            "lastfm_tags.db, table `tid_tag`, row 1, column `tid`: track id \"../x\" contains `..`"
        );
        let empty = database(SCHEMA);
        assert_eq!(error(import(&empty)), "lastfm_tags.db: nothing to import");
    }
}
