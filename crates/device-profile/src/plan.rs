//! The read plan: a profile's points grouped into as few read requests as possible.
//!
//! Per table, points in address order are merged greedily into one block while the gap from the block's end to the
//! next point is at most `max_gap` and the block stays within the protocol's limit (125 registers, 2000 bits).
//! Greedy is minimal here: any plan must start a new block where greedy does, since greedy's blocks already reach
//! as far as the limits allow.

use crate::model::{PointKind, Profile, Table};

/// One read request: `count` registers (or bits) of `table` from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub table: Table,
    pub start: u16,
    pub count: u16,
}

/// Where a point's registers sit in the answers: block `block`, from `offset`, `width` long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub kind: PointKind,
    pub block: usize,
    pub offset: u16,
    pub width: u16,
}

/// The blocks to read and where each point sits in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPlan {
    /// In table order (holding, input, coil, discrete input), then address order.
    pub blocks: Vec<Block>,
    /// One per point of the profile, in [`PointKind::ALL`] order.
    pub slots: Vec<Slot>,
}

impl ReadPlan {
    /// Plans the reads of every point of `profile`.
    #[must_use]
    pub fn new(profile: &Profile) -> Self {
        let mut points: Vec<_> = profile.points.iter().collect();
        points.sort_by_key(|(_, p)| (p.table, p.address));
        let mut blocks: Vec<Block> = Vec::new();
        let mut placed: Vec<Slot> = Vec::with_capacity(points.len());
        for (kind, p) in points {
            let end = p.end();
            let joins = blocks.last().is_some_and(|b| {
                let block_end = u32::from(b.start) + u32::from(b.count);
                b.table == p.table
                    && u32::from(p.address) <= block_end + u32::from(profile.max_gap)
                    && end - u32::from(b.start) <= u32::from(p.table.max_read())
            });
            if joins {
                let b = blocks.last_mut().expect("joins implies a block");
                // Points never overlap (validated), so the block only grows.
                b.count = u16::try_from(end - u32::from(b.start)).unwrap_or(u16::MAX).max(b.count);
            } else {
                blocks.push(Block { table: p.table, start: p.address, count: p.width() });
            }
            let index = blocks.len() - 1;
            placed.push(Slot { kind, block: index, offset: p.address - blocks[index].start, width: p.width() });
        }
        placed.sort_by_key(|s| s.kind);
        Self { blocks, slots: placed }
    }

    /// Where a point sits, if the profile has it.
    #[must_use]
    pub fn slot(&self, kind: PointKind) -> Option<&Slot> {
        self.slots.iter().find(|s| s.kind == kind)
    }

    /// The registers of `slot` within the answers to [`ReadPlan::blocks`] (one `Vec` per block, in order); `None`
    /// when an answer is shorter than its block.
    #[must_use]
    pub fn words<'a>(&self, slot: &Slot, answers: &'a [Vec<u16>]) -> Option<&'a [u16]> {
        let from = usize::from(slot.offset);
        answers.get(slot.block)?.get(from..from + usize::from(slot.width))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin;

    /// A profile whose optional points sit at the given places (kinds taken in order from the optional numeric
    /// ones), for planning only.
    fn profile_with(max_gap: u16, places: &[(Table, u16, &str)]) -> Profile {
        let kinds = ["outdoor_temperature", "rated_power", "valve_position", "humidity", "supply_temperature"];
        let mut text = format!(
            "format = 1\nname = \"p\"\nversion = 1\ndescription = \"d\"\nmax_gap = {max_gap}\n\
             [points.air_temperature]\ntable = \"holding\"\naddress = 60000\ntype = \"int16\"\n\
             [points.target]\ntable = \"holding\"\naddress = 60100\ntype = \"int16\"\nwrite = \"fc06\"\n\
             min = 5.0\nmax = 30.0\nstep = 1.0\n"
        );
        for ((table, address, ty), kind) in places.iter().zip(kinds) {
            text += &format!("[points.{kind}]\ntable = \"{table}\"\naddress = {address}\ntype = \"{ty}\"\n");
        }
        Profile::from_toml(&text).unwrap()
    }

    fn input_blocks(plan: &ReadPlan) -> Vec<(u16, u16)> {
        plan.blocks.iter().filter(|b| b.table == Table::Input).map(|b| (b.start, b.count)).collect()
    }

    #[test]
    fn heating_sim_is_one_request() {
        let plan = ReadPlan::new(&builtin("heating-sim").unwrap());
        assert_eq!(plan.blocks, vec![Block { table: Table::Holding, start: 0, count: 8 }]);
        let energy = plan.slot(PointKind::Energy).unwrap();
        assert_eq!((energy.block, energy.offset, energy.width), (0, 4, 2));
        let answers = vec![vec![210, 215, 1, 0, 1, 2, 0xFFDF, 2500]];
        assert_eq!(plan.words(energy, &answers), Some(&[1u16, 2][..]));
        assert_eq!(plan.words(energy, &[vec![1, 2]]), None, "a short answer");
    }

    #[test]
    fn gaps_up_to_max_gap_are_bridged_and_wider_ones_split() {
        // Ends at 2 and 12: gap 10 from 2 to 12.
        let p = profile_with(10, &[(Table::Input, 0, "int32"), (Table::Input, 12, "int16")]);
        assert_eq!(input_blocks(&ReadPlan::new(&p)), vec![(0, 13)]);
        let p = profile_with(9, &[(Table::Input, 0, "int32"), (Table::Input, 12, "int16")]);
        assert_eq!(input_blocks(&ReadPlan::new(&p)), vec![(0, 2), (12, 1)]);
        let p = profile_with(0, &[(Table::Input, 0, "int32"), (Table::Input, 2, "int16")]);
        assert_eq!(input_blocks(&ReadPlan::new(&p)), vec![(0, 3)], "adjacent points merge with no gap allowed");
    }

    #[test]
    fn blocks_respect_the_125_register_limit() {
        // 0..2 and 123..125 fit one block of 125; 0..2 and 124..126 would need 126.
        let p = profile_with(200, &[(Table::Input, 0, "int32"), (Table::Input, 123, "int32")]);
        assert_eq!(input_blocks(&ReadPlan::new(&p)), vec![(0, 125)]);
        let p = profile_with(200, &[(Table::Input, 0, "int32"), (Table::Input, 124, "int32")]);
        assert_eq!(input_blocks(&ReadPlan::new(&p)), vec![(0, 2), (124, 2)]);
        // Minimal: three points where the third fits with the second but not the first.
        let p = profile_with(
            200,
            &[(Table::Input, 0, "int16"), (Table::Input, 100, "int16"), (Table::Input, 130, "int16")],
        );
        assert_eq!(input_blocks(&ReadPlan::new(&p)), vec![(0, 101), (130, 1)]);
    }

    #[test]
    fn bits_merge_up_to_2000_and_tables_never_mix() {
        // Numeric kinds cannot be bool: move relay-coil's flags instead.
        let mut p = builtin("relay-coil").unwrap();
        p.max_gap = u16::MAX;
        let mut a = *p.points.heater.as_ref().unwrap();
        a.address = 0;
        p.points.heater = Some(a);
        let mut w = a;
        w.address = 1999;
        p.points.window_contact = Some(w);
        let mut o = *p.points.occupancy.as_ref().unwrap();
        o.table = Table::Coil;
        o.address = 2000;
        p.points.occupancy = Some(o);
        let plan = ReadPlan::new(&p);
        let coils: Vec<_> = plan.blocks.iter().filter(|b| b.table == Table::Coil).map(|b| (b.start, b.count)).collect();
        assert_eq!(coils, vec![(0, 2000), (2000, 1)]);
        assert!(plan.blocks.iter().all(|b| b.count <= b.table.max_read()));
    }

    #[test]
    fn every_point_has_one_slot_inside_its_block() {
        for profile in crate::builtins() {
            let plan = ReadPlan::new(&profile);
            assert_eq!(plan.slots.len(), profile.points.iter().count(), "{}", profile.name);
            for slot in &plan.slots {
                let point = profile.points.get(slot.kind).unwrap();
                let block = plan.blocks[slot.block];
                assert_eq!(block.table, point.table);
                assert_eq!(block.start + slot.offset, point.address);
                assert!(slot.offset + slot.width <= block.count);
            }
        }
    }
}
