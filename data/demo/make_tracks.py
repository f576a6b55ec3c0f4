"""Writes tracks.csv: a small, made-up track table (genre, tempo, year) that
the engine demo in pipeline.yaml reads. Deterministic: python3 make_tracks.py"""
import csv
import random

rng = random.Random(7)
genres = {"ballroom": (90, 30), "rock": (120, 15), "electronic": (128, 6), "jazz": (140, 35)}
with open("tracks.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["track_id", "genre", "bpm", "year"])
    for i in range(200):
        genre = rng.choice(sorted(genres))
        mean, sd = genres[genre]
        w.writerow([f"t{i:04d}", genre, round(rng.gauss(mean, sd), 1), rng.randint(1960, 2020)])
