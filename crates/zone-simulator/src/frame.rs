//! Modbus TCP framing, done here rather than by `tokio_modbus`'s server so that a malformed request is answered
//! as the Modbus specification says instead of dropping the connection.
//!
//! An ADU is a 7-byte MBAP header (transaction id, protocol id 0, length = unit id + PDU, unit id) and a PDU of
//! at most 253 bytes (function code and data). A header that cannot belong to a Modbus request (protocol id other
//! than 0, length below 2 or above 254) leaves no way to find where the next request starts: the connection is
//! closed at once, without waiting for the bytes the length promised. Any other PDU is read whole and answered:
//! a function the zone does not serve (which depends on its device profile, see [`Functions`]) with exception 01,
//! a PDU whose length does not fit its function code with 03 (the order of checks of the specification's server
//! state diagram: function code, then data length and quantity, then address, then value).

/// MBAP header length, unit id included.
pub(crate) const HEADER_LEN: usize = 7;
/// Largest MBAP length field: the unit id and a PDU of at most 253 bytes.
pub(crate) const MAX_LENGTH: u16 = 254;
/// Smallest MBAP length field that carries a function code.
pub(crate) const MIN_LENGTH: u16 = 2;

pub(crate) const FC_READ_COILS: u8 = 0x01;
pub(crate) const FC_READ_DISCRETE: u8 = 0x02;
pub(crate) const FC_READ_HOLDING: u8 = 0x03;
pub(crate) const FC_READ_INPUT: u8 = 0x04;
pub(crate) const FC_WRITE_COIL: u8 = 0x05;
pub(crate) const FC_WRITE_SINGLE: u8 = 0x06;
pub(crate) const FC_WRITE_MULTIPLE: u8 = 0x10;

/// The function codes a zone serves (a set over 01..=16); any other is answered with exception 01 before its
/// length is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Functions(u32);

impl Functions {
    /// README's register map: FC03, FC04, FC06, FC16.
    #[cfg(test)]
    pub(crate) const REGISTER_MAP: Self =
        Self::EMPTY.with(FC_READ_HOLDING).with(FC_READ_INPUT).with(FC_WRITE_SINGLE).with(FC_WRITE_MULTIPLE);
    pub(crate) const EMPTY: Self = Self(0);

    #[must_use]
    pub(crate) const fn with(self, function: u8) -> Self {
        if function < 32 { Self(self.0 | 1 << function) } else { self }
    }

    pub(crate) fn serves(self, function: u8) -> bool {
        function < 32 && self.0 & (1 << function) != 0
    }
}

/// A Modbus exception code the simulator answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exception {
    IllegalFunction = 0x01,
    IllegalDataAddress = 0x02,
    IllegalDataValue = 0x03,
    /// A write refused by an injected fault ([`crate::SimulatorHandle::set_writes_refused`]).
    ServerDeviceFailure = 0x04,
    GatewayTargetDevice = 0x0B,
}

/// A decoded MBAP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub transaction_id: u16,
    pub unit_id: u8,
    /// Bytes of PDU that follow the header (function code included).
    pub pdu_len: usize,
}

/// Why a header cannot start a Modbus request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HeaderError {
    #[error("protocol id {0} is not Modbus (0)")]
    Protocol(u16),
    #[error("MBAP length {0} is outside 2..=254")]
    Length(u16),
}

/// Reads and checks an MBAP header.
pub(crate) fn parse_header(b: &[u8; HEADER_LEN]) -> Result<Header, HeaderError> {
    let protocol = u16::from_be_bytes([b[2], b[3]]);
    if protocol != 0 {
        return Err(HeaderError::Protocol(protocol));
    }
    let length = u16::from_be_bytes([b[4], b[5]]);
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        return Err(HeaderError::Length(length));
    }
    Ok(Header { transaction_id: u16::from_be_bytes([b[0], b[1]]), unit_id: b[6], pdu_len: usize::from(length) - 1 })
}

/// A request of one of the functions the register map serves, well-formed by its function code's rules (its
/// addresses and values are checked against the register map later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ZoneRequest {
    /// FC01, FC02 (bits), FC03 or FC04 (registers); `function` tells which.
    Read { function: u8, addr: u16, quantity: u16 },
    /// FC05: `value` 0xFF00 (on) or 0x0000 (off); other values are refused later, with exception 03.
    WriteCoil { addr: u16, value: u16 },
    /// FC06.
    WriteSingle { addr: u16, value: u16 },
    /// FC16.
    WriteMultiple { addr: u16, values: Vec<u16> },
}

impl ZoneRequest {
    pub(crate) fn function(&self) -> u8 {
        match self {
            Self::Read { function, .. } => *function,
            Self::WriteCoil { .. } => FC_WRITE_COIL,
            Self::WriteSingle { .. } => FC_WRITE_SINGLE,
            Self::WriteMultiple { .. } => FC_WRITE_MULTIPLE,
        }
    }
}

/// What a served request answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// FC03/FC04: the registers read.
    Registers { function: u8, values: Vec<u16> },
    /// FC01/FC02: the bits read, packed eight to a byte, the first in the lowest bit.
    Bits { function: u8, values: Vec<bool> },
    /// FC05 (address and value written), FC06 (address and value written) or FC16 (address and quantity written).
    Echo { function: u8, addr: u16, word: u16 },
}

fn word(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Decodes a PDU (function code first, at least one byte) into a request the zone serves, or the exception the
/// specification prescribes: 01 for a function the zone does not serve (`served`), 03 for a length that does not
/// fit the function (FC01-FC06 take exactly 4 data bytes; FC16 takes address, quantity, a byte count equal to
/// twice the quantity, and exactly that many bytes).
pub(crate) fn decode_request(pdu: &[u8], served: Functions) -> Result<ZoneRequest, (u8, Exception)> {
    let Some((&function, data)) = pdu.split_first() else {
        // The header check guarantees a function code; answer as for a function we do not know.
        return Err((0, Exception::IllegalFunction));
    };
    if !served.serves(function) {
        return Err((function, Exception::IllegalFunction));
    }
    let value_error = Err((function, Exception::IllegalDataValue));
    match function {
        FC_READ_COILS | FC_READ_DISCRETE | FC_READ_HOLDING | FC_READ_INPUT | FC_WRITE_COIL | FC_WRITE_SINGLE => {
            if data.len() != 4 {
                return value_error;
            }
            let (a, b) = (word(data, 0), word(data, 2));
            Ok(match function {
                FC_WRITE_SINGLE => ZoneRequest::WriteSingle { addr: a, value: b },
                FC_WRITE_COIL => ZoneRequest::WriteCoil { addr: a, value: b },
                _ => ZoneRequest::Read { function, addr: a, quantity: b },
            })
        }
        FC_WRITE_MULTIPLE => {
            if data.len() < 5 {
                return value_error;
            }
            let (addr, quantity, byte_count) = (word(data, 0), word(data, 2), usize::from(data[4]));
            let values = &data[5..];
            if usize::from(quantity) * 2 != byte_count || values.len() != byte_count {
                return value_error;
            }
            Ok(ZoneRequest::WriteMultiple { addr, values: values.chunks_exact(2).map(|w| word(w, 0)).collect() })
        }
        _ => Err((function, Exception::IllegalFunction)),
    }
}

/// Appends the response ADU for `header`: the reply, or the exception response (function code with its high bit
/// set, then the exception code).
pub(crate) fn encode_response(header: &Header, answer: &Result<Reply, (u8, Exception)>, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&header.transaction_id.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // protocol id, then the length, filled in below
    out.push(header.unit_id);
    match answer {
        Ok(Reply::Registers { function, values }) => {
            out.push(*function);
            // At most 125 registers are ever read, so the byte count fits.
            out.push(u8::try_from(values.len() * 2).unwrap_or(u8::MAX));
            for v in values {
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        Ok(Reply::Bits { function, values }) => {
            out.push(*function);
            // At most 2000 bits are ever read: 250 bytes.
            let bytes = values.len().div_ceil(8);
            out.push(u8::try_from(bytes).unwrap_or(u8::MAX));
            out.extend((0..bytes).map(|i| {
                values[i * 8..values.len().min(i * 8 + 8)]
                    .iter()
                    .enumerate()
                    .fold(0u8, |b, (k, &on)| b | u8::from(on) << k)
            }));
        }
        Ok(Reply::Echo { function, addr, word }) => {
            out.push(*function);
            out.extend_from_slice(&addr.to_be_bytes());
            out.extend_from_slice(&word.to_be_bytes());
        }
        Err((function, exception)) => {
            out.push(function | 0x80);
            out.push(*exception as u8);
        }
    }
    let length = u16::try_from(out.len() - start - (HEADER_LEN - 1)).unwrap_or(u16::MAX);
    out[start + 4..start + 6].copy_from_slice(&length.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(protocol: u16, length: u16) -> [u8; HEADER_LEN] {
        let [p0, p1] = protocol.to_be_bytes();
        let [l0, l1] = length.to_be_bytes();
        [0x12, 0x34, p0, p1, l0, l1, 1]
    }

    #[test]
    fn headers_outside_modbus_are_refused() {
        assert_eq!(parse_header(&header(0, 6)), Ok(Header { transaction_id: 0x1234, unit_id: 1, pdu_len: 5 }));
        assert_eq!(parse_header(&header(0, 254)).unwrap().pdu_len, 253);
        assert_eq!(parse_header(&header(0, 2)).unwrap().pdu_len, 1);
        assert_eq!(parse_header(&header(1, 6)), Err(HeaderError::Protocol(1)));
        for bad in [0, 1, 255, 256, 0xFFFF] {
            assert_eq!(parse_header(&header(0, bad)), Err(HeaderError::Length(bad)));
        }
    }

    fn decode_request(pdu: &[u8]) -> Result<ZoneRequest, (u8, Exception)> {
        super::decode_request(pdu, Functions::REGISTER_MAP)
    }

    #[test]
    fn functions_a_profile_does_not_serve_are_refused_before_their_length() {
        let all = Functions::REGISTER_MAP.with(FC_READ_COILS).with(FC_READ_DISCRETE).with(FC_WRITE_COIL);
        assert_eq!(
            super::decode_request(&[1, 0, 2, 0, 9], all),
            Ok(ZoneRequest::Read { function: 1, addr: 2, quantity: 9 })
        );
        assert_eq!(
            super::decode_request(&[2, 0, 0, 0, 1], all),
            Ok(ZoneRequest::Read { function: 2, addr: 0, quantity: 1 })
        );
        assert_eq!(
            super::decode_request(&[5, 0, 3, 0xFF, 0], all),
            Ok(ZoneRequest::WriteCoil { addr: 3, value: 0xFF00 })
        );
        assert_eq!(super::decode_request(&[5, 0, 3, 0xFF], all), Err((5, Exception::IllegalDataValue)));
        assert_eq!(super::decode_request(&[1, 0], all), Err((1, Exception::IllegalDataValue)));
        let coils_only = Functions::EMPTY.with(FC_READ_COILS);
        assert_eq!(super::decode_request(&[3, 0, 0, 0, 1], coils_only), Err((3, Exception::IllegalFunction)));
        assert_eq!(super::decode_request(&[0x10, 0], coils_only), Err((0x10, Exception::IllegalFunction)));
        assert!(!Functions::EMPTY.with(200).serves(200));
    }

    #[test]
    fn bits_are_packed_lowest_first() {
        let h = Header { transaction_id: 1, unit_id: 1, pdu_len: 5 };
        let mut out = Vec::new();
        let values = vec![true, false, true, true, false, false, false, false, true, true];
        encode_response(&h, &Ok(Reply::Bits { function: 1, values }), &mut out);
        assert_eq!(out, [0, 1, 0, 0, 0, 5, 1, 1, 2, 0b0000_1101, 0b0000_0011]);
    }

    #[test]
    fn pdus_are_decoded_by_their_function_codes_rules() {
        assert_eq!(decode_request(&[3, 0, 1, 0, 7]), Ok(ZoneRequest::Read { function: 3, addr: 1, quantity: 7 }));
        assert_eq!(decode_request(&[6, 0, 1, 0, 215]), Ok(ZoneRequest::WriteSingle { addr: 1, value: 215 }));
        assert_eq!(
            decode_request(&[0x10, 0, 1, 0, 2, 4, 0, 200, 0, 1]),
            Ok(ZoneRequest::WriteMultiple { addr: 1, values: vec![200, 1] })
        );
        let value = Exception::IllegalDataValue;
        for (pdu, function) in [
            (&[3u8, 0, 0, 8][..], 3),
            (&[3, 0, 0, 0, 8, 0], 3),
            (&[4], 4),
            (&[6, 0, 1, 0], 6),
            (&[0x10, 0, 1, 0, 2, 2, 0, 200], 0x10),
            (&[0x10, 0, 1, 0, 1, 2, 0], 0x10),
            (&[0x10, 0, 1, 0, 1, 2, 0, 200, 0], 0x10),
            (&[0x10, 0, 1, 0], 0x10),
        ] {
            assert_eq!(decode_request(pdu), Err((function, value)), "{pdu:?}");
        }
        for pdu in [&[1u8, 0, 0, 0, 1][..], &[0x17], &[0x2b, 0x0e, 1, 0], &[0x64, 1, 2], &[0x83, 0, 0, 0, 1], &[0]] {
            assert_eq!(decode_request(pdu), Err((pdu[0], Exception::IllegalFunction)), "{pdu:?}");
        }
    }

    #[test]
    fn responses_carry_the_transaction_and_a_correct_length() {
        let h = Header { transaction_id: 0xBEEF, unit_id: 1, pdu_len: 5 };
        let mut out = Vec::new();
        encode_response(&h, &Ok(Reply::Registers { function: 3, values: vec![215, 1] }), &mut out);
        assert_eq!(out, [0xBE, 0xEF, 0, 0, 0, 7, 1, 3, 4, 0, 215, 0, 1]);
        out.clear();
        encode_response(&h, &Ok(Reply::Echo { function: 6, addr: 1, word: 215 }), &mut out);
        assert_eq!(out, [0xBE, 0xEF, 0, 0, 0, 6, 1, 6, 0, 1, 0, 215]);
        out.clear();
        encode_response(&h, &Err((0x10, Exception::IllegalDataValue)), &mut out);
        assert_eq!(out, [0xBE, 0xEF, 0, 0, 0, 3, 1, 0x90, 3]);
    }
}
