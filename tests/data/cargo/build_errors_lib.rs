pub struct NoShow;
pub fn a() { println!("{}", NoShow); }
pub fn b() -> i32 { "x" }
pub fn c() -> i32 { undefined_name }
pub fn d() { let v: Vec<u8> = vec![1, 2]; let _: &str = v; }
macro_rules! bad { ($e:expr) => { let _x: u8 = $e; } }
pub fn e() { bad!("str"); }
pub fn f() { assert_eq!(1u8, "a"); }
pub fn g() { let unused = 1; }
#[cfg(test)]
mod t { #[test] fn w() { let unused_in_test = 2; } }
