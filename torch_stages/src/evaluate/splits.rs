//! Train/test splits of a target dataset, one per repeat (SPEC 6; the
//! paper's section 4.4 and the authors' `musmtl/evaluation.py`).
//!
//! The dataset's columns choose the scheme, in this order:
//!
//! * `split` present ([`Scheme::Given`]): train and valid train, test tests.
//!   Every repeat uses this same split, so repeats differ only in the
//!   model's seed (the probe's initialisation and batch order).
//! * `group` present ([`Scheme::Grouped`]): whole groups (artists) are
//!   tested, so no group is on both sides.
//! * classification otherwise ([`Scheme::Stratified`]): each class is
//!   spread over the test parts in proportion to its size.
//! * regression and items otherwise ([`Scheme::Random`]).
//!
//! How much is tested is the [`Protocol`]'s: evaluation uses five folds
//! (repeat r tests fold r mod 5, so five repeats test every track once, as
//! the authors' `StratifiedKFold(n_splits=5, shuffle=True)`; repeats past
//! five start a freshly shuffled round of folds); recommendation holds out
//! 5% of the items afresh in every repeat (their `train_ratio` 0.95).
//!
//! Each repeat (or round of folds) draws from its own stream derived from
//! the seed, so a repeat's split does not depend on how many repeats are
//! asked for.

use thiserror::Error;

use stages::rng::Rng;

/// Folds of the evaluation protocol: each tests a fifth of the tracks.
pub const FOLDS: usize = 5;
/// Share of the items held out per repeat for cold-start recommendation.
pub const ITEM_TEST_SHARE: f64 = 0.05;
/// The fewest tracks (or groups) a split accepts: one per fold.
pub const MIN_TRACKS: usize = FOLDS;

/// How much of the dataset each repeat tests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Protocol {
    /// [`FOLDS`] folds; repeat r tests fold r mod [`FOLDS`].
    Folds,
    /// This share (rounded up) tested, drawn afresh in every repeat.
    HoldOut(f64),
}

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

/// Splits `n` tracks `repeats` times (see the module docs for the scheme
/// and the protocol).
pub fn make_splits(
    n: usize,
    input: &SplitInput,
    repeats: usize,
    seed: u64,
    protocol: Protocol,
) -> Result<Splits, SplitError> {
    if let Some(classes) = input.classes {
        check_classes(classes, &vec![Part::Train; n], None)?;
    }
    let scheme = match (input.given, input.groups, input.classes) {
        (Some(_), _, _) => Scheme::Given,
        (None, Some(_), _) => Scheme::Grouped,
        (None, None, Some(_)) => Scheme::Stratified,
        (None, None, None) => Scheme::Random,
    };
    if scheme != Scheme::Given {
        check_enough(n, input.groups, protocol)?;
    }
    let mut parts = Vec::with_capacity(repeats);
    let mut round_folds: Option<(usize, Vec<usize>)> = None;
    for repeat in 0..repeats {
        let split = match (input.given, protocol) {
            (Some(given), _) => given_split(given)?,
            (None, Protocol::Folds) => {
                let round = repeat / FOLDS;
                if round_folds.as_ref().is_none_or(|(r, _)| *r != round) {
                    let mut rng = Rng::derive(seed, &["evaluate/folds", &round.to_string()]);
                    round_folds = Some((round, assign_folds(n, input, &mut rng)));
                }
                let fold_of = &round_folds.as_ref().expect("assigned above").1;
                let tested = repeat % FOLDS;
                fold_of
                    .iter()
                    .map(|&f| if f == tested { Part::Test } else { Part::Train })
                    .collect()
            }
            (None, Protocol::HoldOut(share)) => {
                let mut rng = Rng::derive(seed, &["evaluate/split", &repeat.to_string()]);
                hold_out(n, input, share, &mut rng)
            }
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

/// Enough tracks, and enough groups: one per fold, or two to hold one out.
fn check_enough(n: usize, groups: Option<&[usize]>, protocol: Protocol) -> Result<(), SplitError> {
    if n < MIN_TRACKS {
        return Err(SplitError::TooFewTracks {
            have: n,
            need: format!("a split needs at least {MIN_TRACKS}"),
        });
    }
    let Some(groups) = groups else {
        return Ok(());
    };
    let need = match protocol {
        Protocol::Folds => FOLDS,
        Protocol::HoldOut(_) => 2,
    };
    let have = distinct_groups(groups).len();
    if have < need {
        return Err(SplitError::TooFewTracks {
            have: n,
            need: format!(
                "they form {have} group(s); a group-filtered split needs at least {need}"
            ),
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

fn distinct_groups(groups: &[usize]) -> Vec<usize> {
    let mut distinct = groups.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    distinct
}

/// The fold of every track in one round of [`FOLDS`] folds.
fn assign_folds(n: usize, input: &SplitInput, rng: &mut Rng) -> Vec<usize> {
    match (input.groups, input.classes) {
        (Some(groups), _) => group_folds(groups, rng),
        (None, Some(classes)) => {
            // Each class shuffled, then all dealt round the folds in turn:
            // a class's tracks spread within one of its fair share, and the
            // folds' sizes within one of each other.
            let mut fold_of = vec![0; n];
            let mut dealt = 0;
            for mut tracks in class_members(classes.of_track) {
                rng.shuffle(&mut tracks);
                for track in tracks {
                    fold_of[track] = dealt % FOLDS;
                    dealt += 1;
                }
            }
            fold_of
        }
        (None, None) => {
            let mut order: Vec<usize> = (0..n).collect();
            rng.shuffle(&mut order);
            let mut fold_of = vec![0; n];
            for (i, &track) in order.iter().enumerate() {
                fold_of[track] = i % FOLDS;
            }
            fold_of
        }
    }
}

/// Groups in a shuffled order, each to the fold with the fewest tracks so
/// far (the lowest on ties), so the folds' sizes differ by at most one
/// group's.
fn group_folds(groups: &[usize], rng: &mut Rng) -> Vec<usize> {
    let mut distinct = distinct_groups(groups);
    rng.shuffle(&mut distinct);
    let mut size = vec![0usize; groups.iter().max().map_or(0, |m| m + 1)];
    for &g in groups {
        size[g] += 1;
    }
    let mut load = [0usize; FOLDS];
    let mut fold_of_group = vec![0; size.len()];
    for g in distinct {
        let lightest = (0..FOLDS).min_by_key(|&f| (load[f], f)).expect("FOLDS > 0");
        fold_of_group[g] = lightest;
        load[lightest] += size[g];
    }
    groups.iter().map(|&g| fold_of_group[g]).collect()
}

/// `share` of `n` rounded up, at least one and fewer than all.
fn held_out_count(share: f64, n: usize) -> usize {
    ((share * n as f64).ceil() as usize).clamp(1, n - 1)
}

/// One hold-out split: `share` of the groups, of each class or of the
/// tracks tested.
fn hold_out(n: usize, input: &SplitInput, share: f64, rng: &mut Rng) -> Vec<Part> {
    let mut parts = vec![Part::Train; n];
    match (input.groups, input.classes) {
        (Some(groups), _) => {
            let mut distinct = distinct_groups(groups);
            rng.shuffle(&mut distinct);
            let count = held_out_count(share, distinct.len());
            let mut is_tested = vec![false; groups.iter().max().map_or(0, |m| m + 1)];
            for &g in &distinct[..count] {
                is_tested[g] = true;
            }
            for (part, &g) in parts.iter_mut().zip(groups) {
                if is_tested[g] {
                    *part = Part::Test;
                }
            }
        }
        (None, Some(classes)) => {
            let mut members = class_members(classes.of_track);
            let sizes: Vec<usize> = members.iter().map(Vec::len).collect();
            let quotas = class_quotas(&sizes, held_out_count(share, n));
            for (tracks, quota) in members.iter_mut().zip(quotas) {
                rng.shuffle(tracks);
                for &track in &tracks[..quota] {
                    parts[track] = Part::Test;
                }
            }
        }
        (None, None) => {
            let mut order: Vec<usize> = (0..n).collect();
            rng.shuffle(&mut order);
            for &track in &order[..held_out_count(share, n)] {
                parts[track] = Part::Test;
            }
        }
    }
    parts
}

/// The tracks of each class, in table order.
fn class_members(of_track: &[usize]) -> Vec<Vec<usize>> {
    let n_classes = of_track.iter().max().map_or(0, |m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (track, &class) in of_track.iter().enumerate() {
        members[class].push(track);
    }
    members
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

    /// How often each track was tested over `splits`.
    fn times_tested(splits: &Splits, n: usize) -> Vec<usize> {
        let mut times = vec![0; n];
        for parts in &splits.parts {
            for i in tested(parts) {
                times[i] += 1;
            }
        }
        times
    }

    #[test]
    fn group_folds_test_every_track_once_and_never_straddle() {
        // 40 groups of uneven sizes (1 to 5 tracks).
        let groups: Vec<usize> = (0..120).map(|i| (i * 7 + i / 3) % 40).collect();
        let input = SplitInput {
            groups: Some(&groups),
            ..Default::default()
        };
        let splits = make_splits(groups.len(), &input, 5, 3, Protocol::Folds).unwrap();
        assert_eq!(splits.scheme, Scheme::Grouped);
        assert_eq!(times_tested(&splits, 120), vec![1; 120]);
        let largest = (0..40)
            .map(|g| groups.iter().filter(|&&x| x == g).count())
            .max()
            .unwrap();
        for parts in &splits.parts {
            let mut side = [None; 40];
            for (g, p) in groups.iter().zip(parts) {
                assert!(side[*g].is_none_or(|s| s == *p), "group {g} on both sides");
                side[*g] = Some(*p);
            }
            let n_test = tested(parts).len();
            assert!(n_test.abs_diff(24) <= largest, "{n_test} tracks in a fold");
        }
        // A sixth repeat starts a new round: every track is tested once more.
        let ten = make_splits(groups.len(), &input, 10, 3, Protocol::Folds).unwrap();
        assert_eq!(ten.parts[..5], splits.parts[..]);
        assert_eq!(times_tested(&ten, 120), vec![2; 120]);
        assert_ne!(ten.parts[5..], ten.parts[..5], "rounds are shuffled afresh");
    }

    /// Classes of 50, 30, 12, 7 and 1 tracks, in that order.
    const UNEVEN: [usize; 5] = [50, 30, 12, 7, 1];

    /// The class of each of the 100 tracks of `UNEVEN`.
    fn uneven_classes() -> Vec<usize> {
        UNEVEN
            .iter()
            .enumerate()
            .flat_map(|(c, &s)| std::iter::repeat_n(c, s))
            .collect()
    }

    /// Five seeded splits of the `UNEVEN` tracks, stratified by class.
    fn split_by_class(of_track: &[usize], protocol: Protocol) -> Splits {
        let names = names(UNEVEN.len());
        let input = SplitInput {
            classes: Some(Classes {
                of_track,
                names: &names,
            }),
            ..Default::default()
        };
        make_splits(of_track.len(), &input, 5, 11, protocol).unwrap()
    }

    #[test]
    fn stratified_folds_keep_class_shares() {
        let sizes = UNEVEN;
        let of_track = uneven_classes();
        let splits = split_by_class(&of_track, Protocol::Folds);
        assert_eq!(splits.scheme, Scheme::Stratified);
        assert_eq!(times_tested(&splits, 100), vec![1; 100]);
        for parts in &splits.parts {
            assert_eq!(tested(parts).len(), 20, "a fifth of 100");
            for (c, &size) in sizes.iter().enumerate() {
                let in_test = of_track
                    .iter()
                    .zip(parts)
                    .filter(|(k, p)| **k == c && **p == Part::Test)
                    .count();
                let share = size as f64 / FOLDS as f64;
                assert!(
                    (in_test as f64 - share).abs() < 1.0,
                    "class {c}: {in_test} of {size} tested"
                );
            }
        }
    }

    #[test]
    fn a_hold_out_tests_its_share_of_each_class() {
        let sizes = UNEVEN;
        let of_track = uneven_classes();
        let splits = split_by_class(&of_track, Protocol::HoldOut(0.2));
        for parts in &splits.parts {
            assert_eq!(tested(parts).len(), 20);
            for (c, &size) in sizes.iter().enumerate() {
                let in_test = (0..100)
                    .filter(|&i| of_track[i] == c && parts[i] == Part::Test)
                    .count();
                assert!((in_test as f64 - 0.2 * size as f64).abs() <= 1.0 && in_test < size);
            }
        }
        // The one-track class always trains.
        assert!(splits.parts.iter().all(|p| p[99] == Part::Train));
    }

    #[test]
    fn items_are_held_out_five_percent_at_a_time() {
        let input = SplitInput::default();
        let splits = make_splits(230, &input, 5, 7, Protocol::HoldOut(ITEM_TEST_SHARE)).unwrap();
        for parts in &splits.parts {
            assert_eq!(tested(parts).len(), 12, "ceil(5% of 230)");
        }
        assert_ne!(splits.parts[0], splits.parts[1], "drawn afresh");
        // By group: ceil(5% of 40 groups) = 2 groups held out.
        let groups: Vec<usize> = (0..120).map(|i| i % 40).collect();
        let input = SplitInput {
            groups: Some(&groups),
            ..Default::default()
        };
        let splits = make_splits(120, &input, 3, 7, Protocol::HoldOut(ITEM_TEST_SHARE)).unwrap();
        for parts in &splits.parts {
            assert_eq!(tested(parts).len(), 6, "2 groups of 3");
        }
    }

    #[test]
    fn splits_are_deterministic_and_seeded() {
        let input = SplitInput::default();
        let a = make_splits(37, &input, 5, 42, Protocol::Folds).unwrap();
        let b = make_splits(37, &input, 5, 42, Protocol::Folds).unwrap();
        let c = make_splits(37, &input, 5, 43, Protocol::Folds).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.scheme, Scheme::Random);
        // A repeat does not depend on how many repeats were asked for.
        let three = make_splits(37, &input, 3, 42, Protocol::Folds).unwrap();
        assert_eq!(three.parts[..], a.parts[..3]);
        let sizes: Vec<usize> = a.parts.iter().map(|p| tested(p).len()).collect();
        assert_eq!(sizes, [8, 8, 7, 7, 7], "37 tracks in five folds");
        assert_eq!(times_tested(&a, 37), vec![1; 37]);
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
            Protocol::Folds,
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
            Protocol::Folds,
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
        let err = make_splits(10, &input, 5, 0, Protocol::Folds).unwrap_err();
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
        let err = make_splits(4, &input, 1, 0, Protocol::Folds).unwrap_err();
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
        let err = make_splits(4, &SplitInput::default(), 1, 0, Protocol::Folds).unwrap_err();
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
            make_splits(4, &input, 1, 0, Protocol::Folds),
            Err(SplitError::TooFewTracks { have: 4, .. })
        ));
        let one_group = [7; 30];
        let input = SplitInput {
            groups: Some(&one_group),
            ..Default::default()
        };
        let err = make_splits(30, &input, 1, 0, Protocol::Folds).unwrap_err();
        assert!(err.to_string().contains("1 group(s)"), "{err}");
    }
}
