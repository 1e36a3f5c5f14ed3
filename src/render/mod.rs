//! Output renderers: bcc-compatible tables, CSV and JSON Lines.
