//! Integration tests of heating-weather, one binary: fake providers on 127.0.0.1:0, never the real services.

mod background;
mod cache;
mod helpers;
mod open_meteo;
mod secrets;
mod simulated;
mod weatherapi;
