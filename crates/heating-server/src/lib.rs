//! Central server: placeholder until the server issue.
