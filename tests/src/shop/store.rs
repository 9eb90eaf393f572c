//! The shop's in-memory state: catalog, sessions and their carts.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};

use serde::Serialize;

/// Sessions kept at most; the oldest go first (probes log in every run).
const MAX_SESSIONS: usize = 10_000;

/// A product in the catalog.
#[derive(Debug, Clone, Serialize)]
pub struct Product {
    /// Id that `POST /api/cart` takes as `product_id`.
    pub id: u64,
    /// Display name.
    pub name: &'static str,
    /// Price in `currency`.
    pub price: f64,
    /// ISO 4217 code.
    pub currency: &'static str,
}

/// The catalog, first item first (a journey captures `$.items[0].id`).
pub const PRODUCTS: &[Product] = &[
    Product {
        id: 42,
        name: "Radiosonde weather balloon",
        price: 129.0,
        currency: "EUR",
    },
    Product {
        id: 7,
        name: "Sonde battery pack",
        price: 19.5,
        currency: "EUR",
    },
    Product {
        id: 13,
        name: "Ground station antenna",
        price: 249.0,
        currency: "EUR",
    },
];

#[derive(Debug)]
struct Session {
    user: String,
    cart_id: String,
    /// (product id, quantity)
    lines: Vec<(u64, u32)>,
}

/// Why a cart or checkout request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The bearer token belongs to no session.
    Unauthorized,
    /// No product with that id.
    UnknownProduct(u64),
    /// Checkout of an empty cart.
    EmptyCart,
}

/// Sessions, carts and counters.
#[derive(Debug, Default)]
pub struct Store {
    sessions: HashMap<String, Session>,
    order: VecDeque<String>,
    carts: u64,
    orders: u64,
    random: RandomState,
}

impl Store {
    /// Opens a session for `user` and returns its token.
    pub fn login(&mut self, user: &str) -> String {
        self.carts += 1;
        let token = format!(
            "tok-{:016x}{:016x}",
            self.random.hash_one(self.carts),
            self.random.hash_one(user)
        );
        let session = Session {
            user: user.to_owned(),
            cart_id: format!("cart-{}", self.carts),
            lines: Vec::new(),
        };
        self.sessions.insert(token.clone(), session);
        self.order.push_back(token.clone());
        while self.order.len() > MAX_SESSIONS {
            if let Some(old) = self.order.pop_front() {
                self.sessions.remove(&old);
            }
        }
        token
    }

    /// The user of a session.
    #[must_use]
    pub fn user(&self, token: &str) -> Option<&str> {
        self.sessions.get(token).map(|s| s.user.as_str())
    }

    /// Adds to the session's cart; returns the cart id and its item count.
    ///
    /// # Errors
    /// Unknown session or product.
    pub fn add_to_cart(
        &mut self,
        token: &str,
        product: u64,
        quantity: u32,
    ) -> Result<(String, u32), StoreError> {
        if !PRODUCTS.iter().any(|p| p.id == product) {
            return Err(StoreError::UnknownProduct(product));
        }
        let session = self
            .sessions
            .get_mut(token)
            .ok_or(StoreError::Unauthorized)?;
        match session.lines.iter_mut().find(|(id, _)| *id == product) {
            Some((_, count)) => *count = count.saturating_add(quantity),
            None => session.lines.push((product, quantity)),
        }
        let items = session
            .lines
            .iter()
            .map(|(_, q)| *q)
            .fold(0u32, u32::saturating_add);
        Ok((session.cart_id.clone(), items))
    }

    /// Empties the cart into an order; returns the order id and total.
    ///
    /// # Errors
    /// Unknown session or empty cart.
    pub fn checkout(&mut self, token: &str) -> Result<(String, f64), StoreError> {
        let session = self
            .sessions
            .get_mut(token)
            .ok_or(StoreError::Unauthorized)?;
        if session.lines.is_empty() {
            return Err(StoreError::EmptyCart);
        }
        let total = session
            .lines
            .drain(..)
            .filter_map(|(id, q)| {
                PRODUCTS
                    .iter()
                    .find(|p| p.id == id)
                    .map(|p| p.price * f64::from(q))
            })
            .sum();
        self.orders += 1;
        Ok((format!("ord-{:06}", self.orders), total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cart_then_checkout_empties_the_cart() {
        let mut store = Store::default();
        let token = store.login("synthetic-eu-west-1");
        assert_eq!(store.user(&token), Some("synthetic-eu-west-1"));
        let (cart, items) = store.add_to_cart(&token, 42, 2).unwrap();
        assert_eq!((cart.as_str(), items), ("cart-1", 2));
        assert_eq!(store.add_to_cart(&token, 42, 1).unwrap().1, 3);
        let (order, total) = store.checkout(&token).unwrap();
        assert_eq!((order.as_str(), total), ("ord-000001", 387.0));
        assert_eq!(store.checkout(&token), Err(StoreError::EmptyCart));
        assert_eq!(
            store.add_to_cart(&token, 1, 1),
            Err(StoreError::UnknownProduct(1))
        );
        assert_eq!(
            store.add_to_cart("nope", 42, 1),
            Err(StoreError::Unauthorized)
        );
    }

    #[test]
    fn tokens_differ_per_login() {
        let mut store = Store::default();
        assert_ne!(store.login("a"), store.login("a"));
    }
}
