use std::fmt::{Debug, Display};
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// The element types a [`Tensor`](super::Tensor) can hold: `f32` (the default) and `f64`
/// (for gradient checking and anywhere precision matters).
pub trait Element:
    super::gemm::Gemm
    + Copy
    + Send
    + Sync
    + Debug
    + Display
    + Default
    + PartialOrd
    + PartialEq
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
{
    const ZERO: Self;
    const ONE: Self;
    /// Name used in messages and files ("f32", "f64").
    const NAME: &'static str;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn sqrt(self) -> Self;
    fn abs(self) -> Self;
    fn tanh(self) -> Self;
    fn powf(self, p: Self) -> Self;
    fn max(self, o: Self) -> Self;
    fn min(self, o: Self) -> Self;
    fn is_finite(self) -> bool;
    fn ln_1p(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn tan(self) -> Self;
    fn asin(self) -> Self;
    fn acos(self) -> Self;
    fn atan(self) -> Self;
}

/// Methods of `Element` that call the float method of the same name: `unary` ones take
/// `self`, `binary` ones `self` and another value.
macro_rules! forward_to_float {
    ($t:ty; unary: $($unary:ident)*; binary: $($binary:ident)*) => {
        $(
            #[inline(always)]
            fn $unary(self) -> Self {
                <$t>::$unary(self)
            }
        )*
        $(
            #[inline(always)]
            fn $binary(self, other: Self) -> Self {
                <$t>::$binary(self, other)
            }
        )*
    };
}

macro_rules! impl_element {
    ($t:ty, $name:expr) => {
        impl Element for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NAME: &'static str = $name;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            forward_to_float!($t;
                unary: exp ln sqrt abs tanh ln_1p sin cos tan asin acos atan;
                binary: powf max min);
        }
    };
}

impl_element!(f32, "f32");
impl_element!(f64, "f64");
