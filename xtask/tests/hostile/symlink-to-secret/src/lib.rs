//! Hostile: pulls a secret in through a symlinked module.

mod secret;
