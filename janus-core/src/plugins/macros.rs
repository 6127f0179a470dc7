//! The macros the plugin modules are written with: the `requests!` table that defines
//! request structs, and small helpers for answers and events.

/// Defines request structs: `pub` fields, the required ones first (arguments of `new`), then
/// the optional ones (`Option<T>`, left off the wire when `None`), an `extra` map, and
/// optionally a `jsep` to send along. `new()` without arguments also gives `Default`.
macro_rules! requests {
    (
        plugin = $plugin:ty;
        $(
            $(#[$meta:meta])*
            $name:ident ($req:literal) $(+ $jsep:ident)? -> $resp:ty $(, via $decode:path)? {
                $( $(#[$rmeta:meta])* $rfield:ident : $rty:ty ),* $(,)?
                $( ; $( $(#[$ometa:meta])* $ofield:ident : $oty:ty ),* $(,)? )?
            }
        )*
    ) => {
        $(
            $(#[$meta])*
            #[derive(Clone, Debug, PartialEq, serde::Serialize)]
            #[serde(tag = "request", rename = $req)]
            pub struct $name {
                $( $(#[$rmeta])* pub $rfield: $rty, )*
                $($(
                    $(#[$ometa])*
                    #[serde(skip_serializing_if = "Option::is_none")]
                    pub $ofield: Option<$oty>,
                )*)?
                /// Fields this library does not model, sent as they are.
                #[serde(flatten)]
                pub extra: serde_json::Map<String, serde_json::Value>,
                $(
                    /// The JSEP offer or answer sent with the request.
                    #[serde(skip)]
                    pub $jsep: Option<$crate::Jsep>,
                )?
            }

            impl $name {
                /// The request with its required fields; set optional ones with
                /// `..Self::new(..)` or by assignment.
                pub fn new($($rfield: impl $crate::plugins::IntoField<$rty>),*) -> Self {
                    $name {
                        $( $rfield: $rfield.into_field(), )*
                        $($( $ofield: None, )*)?
                        extra: serde_json::Map::new(),
                        $( $jsep: None, )?
                    }
                }

                $(
                    /// Sets the JSEP sent with the request.
                    pub fn with_jsep(mut self, jsep: $crate::Jsep) -> Self {
                        self.$jsep = Some(jsep);
                        self
                    }
                )?
            }

            requests!(@default $name; $($rfield)*);

            impl $crate::plugins::PluginRequest<$plugin> for $name {
                type Response = $resp;
                $(
                    fn jsep(&self) -> Option<&$crate::Jsep> {
                        self.$jsep.as_ref()
                    }
                )?
                $(
                    fn decode(response: $crate::PluginResponse) -> Result<$resp, $crate::Error> {
                        $decode(response)
                    }
                )?
            }
        )*
    };
    (@default $name:ident;) => {
        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }
    };
    (@default $name:ident; $($r:ident)+) => {};
}

/// Implements `Deserialize` for an event enum through its `from_data` (which never fails),
/// so that requests answered by an event can name the event type as their response.
macro_rules! event_deserialize {
    ($ty:ty) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                serde_json::Value::deserialize(d).map(<$ty>::from_data)
            }
        }
    };
}

/// Implements the crate-private `WithJsep` for answers that carry a `jsep` field.
macro_rules! with_jsep {
    ($($ty:ty),* $(,)?) => {
        $(
            impl $crate::plugins::WithJsep for $ty {
                fn set_jsep(&mut self, jsep: Option<$crate::Jsep>) {
                    self.jsep = jsep;
                }
            }
        )*
    };
}

/// Implements `IntoField<T> for T` for the given types, so that `new` takes them as they
/// are (integer literals need no suffix).
macro_rules! into_field_identity {
    ($($t:ty),*) => {
        $(
            impl $crate::plugins::IntoField<$t> for $t {
                fn into_field(self) -> $t {
                    self
                }
            }
        )*
    };
}
