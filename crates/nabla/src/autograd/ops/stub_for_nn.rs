//! TEMPORARY: placeholders until the op files land (deleted at merge).
#![allow(dead_code)]
use crate::autograd::Var;
use crate::{Element, Error, Result};

fn pending<E: Element>() -> Result<Var<E>> {
    Err(Error::Autograd("operation pending".into()))
}

impl<E: Element> Var<E> {
    pub fn sigmoid(&self) -> Result<Var<E>> {
        pending()
    }
    pub fn tanh(&self) -> Result<Var<E>> {
        pending()
    }
    pub fn relu(&self) -> Result<Var<E>> {
        pending()
    }
    pub fn leaky_relu(&self, _alpha: E) -> Result<Var<E>> {
        pending()
    }
    pub fn mul(&self, _o: &Var<E>) -> Result<Var<E>> {
        pending()
    }
    pub fn add(&self, _o: &Var<E>) -> Result<Var<E>> {
        pending()
    }
    pub fn matmul(&self, _o: &Var<E>) -> Result<Var<E>> {
        pending()
    }
    pub fn transpose(&self) -> Result<Var<E>> {
        pending()
    }
}
