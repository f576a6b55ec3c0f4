//! Train/test splits of a target dataset, one per repeat (SPEC 6, the
//! paper's section 4.4: "we applied the pre-defined split if it is feasible.
//! Otherwise, we randomly split the dataset into an 80% training set and 20%
//! test set", repeated 5 times).
//!
//! The scheme follows the dataset's columns, in this order:
//!
//! * `split` present ([`Scheme::Given`]): train and valid train, test tests.
//!   Every repeat uses this same split, so repeats differ only in the
//!   model's seed (the probe's initialisation and batch order).
//! * `group` present ([`Scheme::Grouped`]): 20% of the groups (rounded up,
//!   as scikit-learn's `GroupShuffleSplit(test_size=0.2)`) go to test, so no
//!   group (artist) is on both sides; the share of tracks varies.
//! * classification otherwise ([`Scheme::Stratified`]): ceil(20% of the
//!   tracks) tested, spread over the classes in proportion to their sizes
//!   (largest remainders; a class keeps at least one training track).
//! * regression and items otherwise ([`Scheme::Random`]): ceil(20%) tested.
//!
//! Each repeat draws from its own stream derived from (seed, repeat), so a
//! repeat's split does not depend on how many repeats are asked for.

use thiserror::Error;

use stages::rng::Rng;

/// Share of the tracks (or groups) held out for testing.
pub const TEST_SHARE: f64 = 0.2;
/// The fewest tracks a random split accepts (20% of 5 is one test track).
pub const MIN_TRACKS: usize = 5;

/// A track's side in one repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Train,
    Test,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Train => "train",
            Part::Test => "test",
        }
    }
}

/// How the splits of a dataset were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Given,
    Grouped,
    Stratified,
    Random,
}

impl Scheme {
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Given => "given",
            Scheme::Grouped => "grouped",
            Scheme::Stratified => "stratified",
            Scheme::Random => "random",
        }
    }
}

/// Why no split could be made.
#[derive(Debug, Error, PartialEq)]
pub enum SplitError {
    #[error("row {row}: split {value:?} is not one of train, valid, test")]
    BadSplitValue { row: usize, value: String },
    #[error("row {row}: no split value, but the dataset has a `split` column")]
    MissingSplitValue { row: usize },
    #[error("every track has class `{class}`: classification needs at least two classes")]
    OneClass { class: String },
    #[error("the training part of repeat {repeat} has only class `{class}`")]
    TrainOneClass { repeat: usize, class: String },
    #[error("{have} tracks are too few: {need}")]
    TooFewTracks { have: usize, need: String },
    #[error("the given split has no {part} track")]
    EmptyPart { part: &'static str },
}

/// Classification labels: a class index per track and the class names.
#[derive(Debug, Clone, Copy)]
pub struct Classes<'a> {
    pub of_track: &'a [usize],
    pub names: &'a [String],
}

/// What a split may use, one entry per track.
#[derive(Debug, Clone, Copy, Default)]
pub struct SplitInput<'a> {
    /// Present for classification (stratification, one-class checks).
    pub classes: Option<Classes<'a>>,
    /// The dataset's own split.
    pub given: Option<&'a [Part]>,
    /// A group index per track (artist, song): groups never straddle.
    pub groups: Option<&'a [usize]>,
}

/// The split of every repeat: `parts[repeat][track]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    pub scheme: Scheme,
    pub parts: Vec<Vec<Part>>,
}

/// Reads a `split` column: train and valid train, test tests; `rows` are the
/// values in table order (errors name the 1-based row).
pub fn parse_given(values: &[Option<&str>]) -> Result<Vec<Part>, SplitError> {
    values
        .iter()
        .enumerate()
        .map(|(i, value)| match value.map(str::trim) {
            Some("train" | "valid") => Ok(Part::Train),
            Some("test") => Ok(Part::Test),
            None | Some("") => Err(SplitError::MissingSplitValue { row: i + 1 }),
            Some(other) => Err(SplitError::BadSplitValue {
                row: i + 1,
                value: other.to_string(),
            }),
        })
        .collect()
}

/// Splits `n` tracks `repeats` times (see the module docs for the scheme).
pub fn make_splits(
    n: usize,
    input: &SplitInput,
    repeats: usize,
    seed: u64,
) -> Result<Splits, SplitError> {
    if let Some(classes) = input.classes {
        check_classes(classes, &vec![Part::Train; n], None)?;
    }
    let scheme = if input.given.is_some() {
        Scheme::Given
    } else if input.groups.is_some() {
        Scheme::Grouped
    } else if input.classes.is_some() {
        Scheme::Stratified
    } else {
        Scheme::Random
    };
    let mut parts = Vec::with_capacity(repeats);
    for repeat in 0..repeats {
        let mut rng = Rng::derive(seed, &["evaluate/split", &repeat.to_string()]);
        let split = match (input.given, input.groups, input.classes) {
            (Some(given), _, _) => given_split(given)?,
            (None, Some(groups), _) => grouped_split(groups, &mut rng)?,
            (None, None, Some(classes)) => stratified_split(classes.of_track, &mut rng)?,
            (None, None, None) => random_split(n, &mut rng)?,
        };
        if let Some(classes) = input.classes {
            check_classes(classes, &split, Some(repeat))?;
        }
        parts.push(split);
    }
    Ok(Splits { scheme, parts })
}

/// At least two classes among the training tracks (`repeat: None` checks
/// the whole dataset).
fn check_classes(
    classes: Classes,
    parts: &[Part],
    repeat: Option<usize>,
) -> Result<(), SplitError> {
    let mut training = classes
        .of_track
        .iter()
        .zip(parts)
        .filter(|(_, p)| **p == Part::Train)
        .map(|(c, _)| *c);
    let Some(first) = training.next() else {
        return Ok(()); // an empty training part is reported by the split itself
    };
    if training.all(|c| c == first) {
        let class = classes.names.get(first).cloned().unwrap_or_default();
        return Err(match repeat {
            None => SplitError::OneClass { class },
            Some(repeat) => SplitError::TrainOneClass { repeat, class },
        });
    }
    Ok(())
}

fn given_split(given: &[Part]) -> Result<Vec<Part>, SplitError> {
    for (part, name) in [(Part::Train, "train or valid"), (Part::Test, "test")] {
        if !given.contains(&part) {
            return Err(SplitError::EmptyPart { part: name });
        }
    }
    Ok(given.to_vec())
}

fn test_count(n: usize) -> usize {
    (TEST_SHARE * n as f64).ceil() as usize
}

fn random_split(n: usize, rng: &mut Rng) -> Result<Vec<Part>, SplitError> {
    if n < MIN_TRACKS {
        return Err(too_few(n));
    }
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    let mut parts = vec![Part::Train; n];
    for &track in &order[..test_count(n)] {
        parts[track] = Part::Test;
    }
    Ok(parts)
}

fn too_few(n: usize) -> SplitError {
    SplitError::TooFewTracks {
        have: n,
        need: format!("a random 80/20 split needs at least {MIN_TRACKS}"),
    }
}

fn grouped_split(groups: &[usize], rng: &mut Rng) -> Result<Vec<Part>, SplitError> {
    let mut distinct: Vec<usize> = groups.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 2 {
        return Err(SplitError::TooFewTracks {
            have: groups.len(),
            need: format!(
                "they form {} group(s); a group-filtered split needs at least 2",
                distinct.len()
            ),
        });
    }
    rng.shuffle(&mut distinct);
    let tested = &distinct[..test_count(distinct.len())];
    let mut is_tested = vec![false; distinct.iter().max().map_or(0, |m| m + 1)];
    for &g in tested {
        is_tested[g] = true;
    }
    Ok(groups
        .iter()
        .map(|&g| {
            if is_tested[g] {
                Part::Test
            } else {
                Part::Train
            }
        })
        .collect())
}

/// Test places per class: proportional quotas rounded by largest
/// remainder, each class keeping at least one training track.
fn class_quotas(sizes: &[usize], n_test: usize) -> Vec<usize> {
    let n: usize = sizes.iter().sum();
    let exact: Vec<f64> = sizes
        .iter()
        .map(|&s| n_test as f64 * s as f64 / n as f64)
        .collect();
    let mut quota: Vec<usize> = exact
        .iter()
        .zip(sizes)
        .map(|(q, &s)| (q.floor() as usize).min(s.saturating_sub(1)))
        .collect();
    let mut by_remainder: Vec<usize> = (0..sizes.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        let ra = exact[a] - quota[a] as f64;
        let rb = exact[b] - quota[b] as f64;
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let mut left = n_test.saturating_sub(quota.iter().sum());
    while left > 0 {
        let mut gave = false;
        for &c in &by_remainder {
            if left > 0 && quota[c] + 1 < sizes[c] {
                quota[c] += 1;
                left -= 1;
                gave = true;
            }
        }
        if !gave {
            break;
        }
    }
    quota
}

fn stratified_split(of_track: &[usize], rng: &mut Rng) -> Result<Vec<Part>, SplitError> {
    let n = of_track.len();
    if n < MIN_TRACKS {
        return Err(too_few(n));
    }
    let n_classes = of_track.iter().max().map_or(0, |m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (track, &class) in of_track.iter().enumerate() {
        members[class].push(track);
    }
    let sizes: Vec<usize> = members.iter().map(Vec::len).collect();
    let quotas = class_quotas(&sizes, test_count(n));
    let mut parts = vec![Part::Train; n];
    for (tracks, quota) in members.iter_mut().zip(quotas) {
        rng.shuffle(tracks);
        for &track in &tracks[..quota] {
            parts[track] = Part::Test;
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|c| format!("c{c}")).collect()
    }

    fn tested(parts: &[Part]) -> Vec<usize> {
        (0..parts.len())
            .filter(|&i| parts[i] == Part::Test)
            .collect()
    }

    #[test]
    fn groups_never_straddle_the_split() {
        // 40 groups of uneven sizes (1 to 5 tracks).
        let groups: Vec<usize> = (0..120).map(|i| (i * 7 + i / 3) % 40).collect();
        let splits = make_splits(
            groups.len(),
            &SplitInput {
                groups: Some(&groups),
                ..Default::default()
            },
            5,
            3,
        )
        .unwrap();
        assert_eq!(splits.scheme, Scheme::Grouped);
        for parts in &splits.parts {
            let mut side = [None; 40];
            for (g, p) in groups.iter().zip(parts) {
                assert!(side[*g].is_none_or(|s| s == *p), "group {g} on both sides");
                side[*g] = Some(*p);
            }
            let tested_groups = side.iter().filter(|s| **s == Some(Part::Test)).count();
            assert_eq!(tested_groups, 8, "ceil(20% of 40 groups)");
        }
        assert_ne!(splits.parts[0], splits.parts[1], "repeats differ");
    }

    #[test]
    fn stratification_keeps_class_shares() {
        // Classes of 50, 30, 12, 7 and 1 tracks.
        let sizes = [50usize, 30, 12, 7, 1];
        let of_track: Vec<usize> = sizes
            .iter()
            .enumerate()
            .flat_map(|(c, &s)| std::iter::repeat_n(c, s))
            .collect();
        let names = names(5);
        let classes = Classes {
            of_track: &of_track,
            names: &names,
        };
        let input = SplitInput {
            classes: Some(classes),
            ..Default::default()
        };
        let splits = make_splits(of_track.len(), &input, 5, 11).unwrap();
        assert_eq!(splits.scheme, Scheme::Stratified);
        for parts in &splits.parts {
            assert_eq!(tested(parts).len(), 20, "ceil(20% of 100)");
            for (c, &size) in sizes.iter().enumerate() {
                let in_test = of_track
                    .iter()
                    .zip(parts)
                    .filter(|(k, p)| **k == c && **p == Part::Test)
                    .count();
                let share = TEST_SHARE * size as f64;
                assert!(
                    (in_test as f64 - share).abs() <= 1.0 && in_test < size,
                    "class {c}: {in_test} of {size} tested"
                );
            }
        }
        // The one-track class always trains.
        assert!(splits.parts.iter().all(|p| p[99] == Part::Train));
    }

    #[test]
    fn splits_are_deterministic_and_seeded() {
        let input = SplitInput::default();
        let a = make_splits(37, &input, 5, 42).unwrap();
        let b = make_splits(37, &input, 5, 42).unwrap();
        let c = make_splits(37, &input, 5, 43).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.scheme, Scheme::Random);
        // A repeat does not depend on how many repeats were asked for.
        let three = make_splits(37, &input, 3, 42).unwrap();
        assert_eq!(three.parts[..], a.parts[..3]);
        for parts in &a.parts {
            assert_eq!(tested(parts).len(), 8, "ceil(20% of 37)");
        }
    }

    #[test]
    fn a_given_split_is_used_in_every_repeat() {
        let given = parse_given(&[
            Some("train"),
            Some("valid"),
            Some("test"),
            Some("train"),
            Some(" test "),
        ])
        .unwrap();
        let groups = [0, 0, 1, 1, 2];
        let splits = make_splits(
            5,
            &SplitInput {
                given: Some(&given),
                groups: Some(&groups),
                ..Default::default()
            },
            3,
            0,
        )
        .unwrap();
        assert_eq!(splits.scheme, Scheme::Given);
        for parts in &splits.parts {
            assert_eq!(tested(parts), vec![2, 4]);
        }
    }

    #[test]
    fn bad_split_values_name_the_row() {
        assert_eq!(
            parse_given(&[Some("train"), Some("validation")]),
            Err(SplitError::BadSplitValue {
                row: 2,
                value: "validation".into()
            })
        );
        let err = parse_given(&[Some("test"), Some("train"), None]).unwrap_err();
        assert_eq!(err, SplitError::MissingSplitValue { row: 3 });
        assert!(err.to_string().contains("row 3"), "{err}");
        let no_test = parse_given(&[Some("train"), Some("valid")]).unwrap();
        let err = make_splits(
            2,
            &SplitInput {
                given: Some(&no_test),
                ..Default::default()
            },
            1,
            0,
        )
        .unwrap_err();
        assert_eq!(err, SplitError::EmptyPart { part: "test" });
    }

    #[test]
    fn one_class_is_refused() {
        let names = names(3);
        let all_two = vec![2; 10];
        let input = SplitInput {
            classes: Some(Classes {
                of_track: &all_two,
                names: &names,
            }),
            ..Default::default()
        };
        let err = make_splits(10, &input, 5, 0).unwrap_err();
        assert_eq!(err, SplitError::OneClass { class: "c2".into() });

        // Two classes, but the given training part holds only one.
        let of_track = [0, 0, 0, 1];
        let given = [Part::Train, Part::Train, Part::Test, Part::Test];
        let input = SplitInput {
            classes: Some(Classes {
                of_track: &of_track,
                names: &names,
            }),
            given: Some(&given),
            ..Default::default()
        };
        let err = make_splits(4, &input, 1, 0).unwrap_err();
        assert_eq!(
            err,
            SplitError::TrainOneClass {
                repeat: 0,
                class: "c0".into()
            }
        );
    }

    #[test]
    fn too_few_tracks_or_groups_are_refused() {
        let err = make_splits(4, &SplitInput::default(), 1, 0).unwrap_err();
        assert!(
            matches!(err, SplitError::TooFewTracks { have: 4, .. }),
            "{err}"
        );
        let names = names(2);
        let of_track = [0, 1, 0, 1];
        let input = SplitInput {
            classes: Some(Classes {
                of_track: &of_track,
                names: &names,
            }),
            ..Default::default()
        };
        assert!(matches!(
            make_splits(4, &input, 1, 0),
            Err(SplitError::TooFewTracks { have: 4, .. })
        ));
        let one_group = [7; 30];
        let input = SplitInput {
            groups: Some(&one_group),
            ..Default::default()
        };
        let err = make_splits(30, &input, 1, 0).unwrap_err();
        assert!(err.to_string().contains("1 group(s)"), "{err}");
    }
}
