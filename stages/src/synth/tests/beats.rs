use super::tempo::estimate_bpm;
use super::{corpus, mono};
use crate::synth::{render_track, Role, SynthParams, TargetSet};

/// The beat period measured from the audio matches the true tempo within
/// 2% on at least 90% of tracks: learning tracks of all genres and every
/// ballroom dance (60 to 208 BPM, 3/4 and 4/4).
#[test]
fn the_beat_is_audible_at_the_labelled_tempo() {
    let params = SynthParams {
        duration_s: 8.0,
        ..SynthParams::tiny(11)
    };
    let c = corpus(&params);
    let tracks: Vec<_> = c
        .tracks_in(Role::Learning)
        .take(20)
        .chain(c.tracks_in(Role::Target(TargetSet::Ballroom)).take(20))
        .collect();
    let mut misses = Vec::new();
    for track in &tracks {
        let audio = render_track(track, &params).expect("renders");
        let measured = estimate_bpm(&mono(&audio), audio.sample_rate);
        if (measured / track.bpm - 1.0).abs() > 0.02 {
            misses.push(format!(
                "{} {:.1} -> {measured:.1}",
                track.track_id, track.bpm
            ));
        }
    }
    let rate = 1.0 - misses.len() as f64 / tracks.len() as f64;
    println!(
        "beat match rate {rate:.3} over {} tracks; misses: {misses:?}",
        tracks.len()
    );
    assert!(rate >= 0.9, "beat match rate {rate:.3}; misses: {misses:?}");
}
