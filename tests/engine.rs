//! End-to-end tests of the engine: the real binary on real stores.

mod cluster;
mod commands;
mod contracts;
mod cutoff;
mod embed;
mod examples;
mod failures;
mod fetch;
mod frontend;
mod hostile_config;
mod hostile_inputs;
mod import;
mod items;
mod layered;
mod leases;
mod model;
mod real_audio;
mod reference;
mod s3_puts;
mod scenarios;
mod sink;
mod study;
mod support;
mod synth;
mod trust;
mod user_study;
mod versions;

use support::Backend;

#[test]
fn local_invalidation() {
    scenarios::invalidation(&Backend::Local);
}

#[test]
fn local_crash_and_resume() {
    scenarios::crash_and_resume(&Backend::Local);
}

#[test]
fn local_corruption() {
    scenarios::corruption(&Backend::Local);
}

#[test]
fn local_concurrent_runs() {
    scenarios::concurrent_runs(&Backend::Local);
}

#[test]
fn s3_invalidation() {
    let server = support::S3Server::start();
    scenarios::invalidation(&server.backend());
}

#[test]
fn s3_crash_and_resume() {
    let server = support::S3Server::start();
    scenarios::crash_and_resume(&server.backend());
}

#[test]
fn s3_corruption() {
    let server = support::S3Server::start();
    scenarios::corruption(&server.backend());
}

#[test]
fn s3_concurrent_runs() {
    let server = support::S3Server::start();
    scenarios::concurrent_runs(&server.backend());
}
