//! Byte frequencies of CloudTrail JSON, for choosing the rare bytes memmem anchors on.
//!
//! memchr's default ranking is tuned for general text, where `"` and `:` are rare; in JSON they
//! are among the most frequent bytes, and a needle like `"eventName"` would be anchored on its
//! quote. This table ranks bytes by how often they occur in real CloudTrail records (the shared
//! corpus of AWS documentation samples and detection test records): 0 is the rarest, 255 the
//! most frequent.

use memchr::arch::all::packedpair::HeuristicFrequencyRank;

/// The ranking; see the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct JsonRank;

impl HeuristicFrequencyRank for JsonRank {
    fn rank(&self, byte: u8) -> u8 {
        RANK[byte as usize]
    }
}

#[rustfmt::skip]
const RANK: [u8; 256] = [
      0,   1,   2,   3,   4,   5,   6,   7,   8,   9, 180,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25,  26,  27,  28,  29,  30,
    223,  31, 255, 171, 165, 178, 166, 170, 173, 174, 175, 179, 243, 240, 225, 205,
    238, 246, 242, 235, 232, 230, 227, 226, 228, 229, 250, 176, 168, 172, 169, 167,
    177, 234, 188, 213, 216, 212, 191, 189, 199, 233, 185, 203, 202, 207, 206, 197,
    209, 186, 208, 217, 211, 190, 201, 187, 192, 184, 198, 181, 196, 182,  32, 195,
     33, 253, 222, 245, 241, 254, 221, 218, 210, 244, 183, 200, 236, 237, 249, 247,
    231, 194, 248, 251, 252, 239, 224, 219, 193, 220, 204, 214,  34, 215,  35,  36,
     37,  38,  39,  40,  41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51,  52,
     53,  54,  55,  56,  57,  58,  59,  60,  61,  62,  63,  64,  65,  66,  67,  68,
     69,  70,  71,  72,  73,  74,  75,  76,  77,  78,  79,  80,  81,  82,  83,  84,
     85,  86,  87,  88,  89,  90,  91,  92,  93,  94,  95,  96,  97,  98,  99, 100,
    101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116,
    117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132,
    133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148,
    149, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164,
];
