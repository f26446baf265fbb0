//! Fast CSV line building: integers with `itoa`, floats with `ryu` (shortest text that reads
//! back to the same `f64`), fixed-point values from integers so that `12.30` is exactly the
//! cents the model holds. At scale l the generator writes 1.15 GB; `write!` formatting would
//! dominate its time.

#[derive(Default)]
pub(crate) struct Line(Vec<u8>);

impl Line {
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    pub(crate) fn text(&mut self, s: &str) -> &mut Self {
        self.0.extend_from_slice(s.as_bytes());
        self
    }

    pub(crate) fn comma(&mut self) -> &mut Self {
        self.0.push(b',');
        self
    }

    pub(crate) fn newline(&mut self) -> &mut Self {
        self.0.push(b'\n');
        self
    }

    pub(crate) fn int(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        self
    }

    pub(crate) fn float(&mut self, v: f64) -> &mut Self {
        self.0.extend_from_slice(ryu::Buffer::new().format(v).as_bytes());
        self
    }

    /// `value / 10^decimals` in fixed notation (`1230, 2` → `12.30`); zero is written `0`.
    pub(crate) fn fixed(&mut self, value: i64, decimals: u32) -> &mut Self {
        if value == 0 {
            self.0.push(b'0');
            return self;
        }
        if value < 0 {
            self.0.push(b'-');
        }
        let scale = 10_u64.pow(decimals);
        let abs = value.unsigned_abs();
        self.0.extend_from_slice(itoa::Buffer::new().format(abs / scale).as_bytes());
        self.0.push(b'.');
        let frac = abs % scale;
        let digits = itoa::Buffer::new().format(frac).len() as u32;
        for _ in digits..decimals {
            self.0.push(b'0');
        }
        self.0.extend_from_slice(itoa::Buffer::new().format(frac).as_bytes());
        self
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Line;

    fn fixed(v: i64, d: u32) -> String {
        let mut l = Line::default();
        l.fixed(v, d);
        String::from_utf8(l.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn fixed_point_pads_the_fraction() {
        assert_eq!(fixed(1230, 2), "12.30");
        assert_eq!(fixed(5, 2), "0.05");
        assert_eq!(fixed(123, 4), "0.0123");
        assert_eq!(fixed(-4321, 3), "-4.321");
        assert_eq!(fixed(0, 4), "0");
        // What a reader parses equals the model's integer divided exactly (IEEE division is
        // correctly rounded), which is why the generator's index levels can be reproduced.
        assert_eq!(fixed(1230, 2).parse::<f64>().unwrap(), 1230.0 / 100.0);
    }
}
