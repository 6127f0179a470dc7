//! The macros the plugin modules are written with: the `requests!` table that defines
//! request structs, and small helpers for answers and events.

/// Defines the request structs of a plugin from a table, one entry per request.
///
/// ```text
/// requests! {
///     plugin = VideoRoom;                        // the `Plugin` the requests are for
///
///     /// `join` as a publisher.                 // the struct's doc comment
///     JoinPublisher("join") -> Joined, via decode_with_jsep {
///         fixed {
///             /// Always [`Ptype::Publisher`].
///             ptype: Ptype = Ptype::Publisher,
///         }
///         required {
///             /// The room.
///             room: Id,
///         }
///         optional {
///             /// The display name.
///             display: String,
///         }
///     }
/// }
/// ```
///
/// The header `Name("request") -> Response, via decode` names the struct, the value of its
/// `"request"` field on the wire, and the answer's type. `via decode` is optional: it names
/// the function that builds the answer (by default the plugin's `data` is deserialized).
/// `Name() -> Response` (nothing between the parentheses) is a request whose body has no
/// `"request"` field at all (echotest's).
///
/// The body holds up to four parts, each one optional, in this order:
///
/// - `fixed { field: Type = value, .. }`: a `pub field: Type` that `new` sets to `value`;
///   it is the same for every request of this kind (the `"ptype": "publisher"` of a
///   publisher's `join`). Always sent. It stays a public field, typed (`Ptype`, not a
///   string), as the structs written by hand had it.
/// - `required { field: Type, .. }`: a `pub field: Type`, an argument of `new` (in table
///   order; it accepts anything that is [`IntoField<Type>`](crate::plugins::IntoField)).
///   Always sent.
/// - `optional { field: Type, .. }`: a `pub field: Option<Type>`, `None` from `new`, left off
///   the wire when `None`.
/// - `jsep: optional` or `jsep: required`: a `pub jsep: Option<Jsep>`, sent beside the body
///   (not in it). `optional` gives a `with_jsep` method (videoroom's `Start`); `required`
///   makes the JSEP the last argument of `new` (videoroom's `JoinAndConfigure`).
///
/// Fields take doc comments and other attributes (`#[serde(...)]`). Every struct also gets
/// `pub extra: Map<String, Value>` (fields this library does not model, sent as they are),
/// `new`, `Default` when `new` takes no argument, and `PluginRequest<plugin>`. The entry
/// above becomes:
///
/// ```text
/// pub struct JoinPublisher {
///     pub ptype: Ptype,
///     pub room: Id,
///     pub display: Option<String>,
///     pub extra: Map<String, Value>,
/// }
/// impl JoinPublisher {
///     pub fn new(room: impl IntoField<Id>) -> Self;
/// }
/// impl PluginRequest<VideoRoom> for JoinPublisher { type Response = Joined; .. }
///
/// JoinPublisher { display: Some("alice".into()), ..JoinPublisher::new(1234) }
/// // on the wire: {"request":"join","ptype":"publisher","room":1234,"display":"alice"}
/// ```
macro_rules! requests {
    (
        plugin = $plugin:ty;
        $(
            $(#[$meta:meta])*
            $name:ident ( $($req:literal)? ) -> $resp:ty $(, via $decode:path)? {
                $($body:tt)*
            }
        )*
    ) => {
        $(
            requests!(@request $plugin;
                $(#[$meta])* $name ( $($req)? ) -> $resp $(, via $decode)? { $($body)* }
            );
        )*
    };

    // One entry: the struct, then its `impl`s through the helpers below.
    (@request $plugin:ty;
        $(#[$meta:meta])*
        $name:ident ( $($req:literal)? ) -> $resp:ty $(, via $decode:path)? {
            $( fixed {
                $( $(#[$fmeta:meta])* $ffield:ident : $fty:ty = $fval:expr ),* $(,)?
            } )?
            $( required {
                $( $(#[$rmeta:meta])* $rfield:ident : $rty:ty ),* $(,)?
            } )?
            $( optional {
                $( $(#[$ometa:meta])* $ofield:ident : $oty:ty ),* $(,)?
            } )?
            $( jsep : $jsep:ident $(,)? )?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, serde::Serialize)]
        $( #[serde(tag = "request", rename = $req)] )?
        pub struct $name {
            $($( $(#[$fmeta])* pub $ffield: $fty, )*)?
            $($( $(#[$rmeta])* pub $rfield: $rty, )*)?
            $($(
                $(#[$ometa])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $ofield: Option<$oty>,
            )*)?
            /// Fields this library does not model, sent as they are.
            #[serde(flatten)]
            pub extra: serde_json::Map<String, serde_json::Value>,
            $(
                #[doc = requests!(@jsep_doc $jsep)]
                #[serde(skip)]
                pub jsep: Option<$crate::Jsep>,
            )?
        }

        requests!(@new $name;
            fixed [$($( $ffield = $fval ),*)?]
            required [$($( $rfield : $rty ),*)?]
            optional [$($( $ofield ),*)?]
            jsep [$($jsep)?]
        );

        impl $crate::plugins::PluginRequest<$plugin> for $name {
            type Response = $resp;
            $( requests!(@jsep_method $jsep); )?
            $(
                fn decode(response: $crate::PluginResponse) -> Result<$resp, $crate::Error> {
                    $decode(response)
                }
            )?
        }
    };

    // `new` (and `with_jsep`, and `Default`), for each way of sending a JSEP.
    (@new $name:ident;
        fixed [$( $ffield:ident = $fval:expr ),*]
        required [$( $rfield:ident : $rty:ty ),*]
        optional [$( $ofield:ident ),*]
        jsep []
    ) => {
        impl $name {
            /// The request with its required fields; set optional ones with
            /// `..Self::new(..)` or by assignment.
            pub fn new($($rfield: impl $crate::plugins::IntoField<$rty>),*) -> Self {
                $name {
                    $( $ffield: $fval, )*
                    $( $rfield: $rfield.into_field(), )*
                    $( $ofield: None, )*
                    extra: serde_json::Map::new(),
                }
            }
        }

        requests!(@default $name; $($rfield)*);
    };
    (@new $name:ident;
        fixed [$( $ffield:ident = $fval:expr ),*]
        required [$( $rfield:ident : $rty:ty ),*]
        optional [$( $ofield:ident ),*]
        jsep [optional]
    ) => {
        impl $name {
            /// The request with its required fields; set optional ones with
            /// `..Self::new(..)` or by assignment, and the JSEP with
            /// [`with_jsep`](Self::with_jsep).
            pub fn new($($rfield: impl $crate::plugins::IntoField<$rty>),*) -> Self {
                $name {
                    $( $ffield: $fval, )*
                    $( $rfield: $rfield.into_field(), )*
                    $( $ofield: None, )*
                    extra: serde_json::Map::new(),
                    jsep: None,
                }
            }

            /// Sets the JSEP sent with the request.
            pub fn with_jsep(mut self, jsep: $crate::Jsep) -> Self {
                self.jsep = Some(jsep);
                self
            }
        }

        requests!(@default $name; $($rfield)*);
    };
    (@new $name:ident;
        fixed [$( $ffield:ident = $fval:expr ),*]
        required [$( $rfield:ident : $rty:ty ),*]
        optional [$( $ofield:ident ),*]
        jsep [required]
    ) => {
        impl $name {
            /// The request with its required fields and the JSEP sent with it; set optional
            /// fields with `..Self::new(..)` or by assignment.
            pub fn new(
                $($rfield: impl $crate::plugins::IntoField<$rty>,)*
                jsep: $crate::Jsep,
            ) -> Self {
                $name {
                    $( $ffield: $fval, )*
                    $( $rfield: $rfield.into_field(), )*
                    $( $ofield: None, )*
                    extra: serde_json::Map::new(),
                    jsep: Some(jsep),
                }
            }
        }
    };

    (@default $name:ident;) => {
        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }
    };
    (@default $name:ident; $($r:ident)+) => {};

    (@jsep_doc optional) => {
        "The JSEP offer or answer sent with the request (see `with_jsep`)."
    };
    (@jsep_doc required) => {
        "The JSEP offer or answer sent with the request (given to `new`)."
    };

    (@jsep_method $jsep:ident) => {
        fn jsep(&self) -> Option<&$crate::Jsep> {
            self.jsep.as_ref()
        }
    };
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
