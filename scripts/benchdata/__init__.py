"""Helpers for ``scripts/make_benchmark.py``: the DISC21-style benchmark data builder.

Modules:
    common   -- seeded RNGs, split hashing, small image utilities.
    sources  -- finding source images (Debian wallpapers, tuxpaint stamps, scikit-image,
                scikit-learn) with their licences, and loading them.
    products -- "catalogue product shots": a stamp cut-out on a studio background.
    logos    -- simple-icons rasterising and pasting logos onto photos.
    edits    -- copy edits (crop, resize, JPEG, flip, rotate, colour, blur, text, emoji,
                padding, screenshot frame, paste onto another photo).
"""
