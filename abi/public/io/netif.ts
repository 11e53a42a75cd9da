/**
 * io/netif.h: the PV network device rings (netfront/netback): transmit and receive requests and
 * responses, extra-info slots (GSO, multicast, hash), the optional control ring, flags and codes.
 */
import { array, int16_t, struct, uint16_t, uint32_t, uint8_t, union } from '../../layout/schema.js';
import { grant_ref_t } from '../grant-table.js';
import { sharedRing } from './ring.js';

export const XEN_NETIF_NR_SLOTS_MIN = 18;

export const XEN_NETIF_CTRL_HASH_TYPE_IPV4 = 1 << 0;
export const XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP = 1 << 1;
export const XEN_NETIF_CTRL_HASH_TYPE_IPV6 = 1 << 2;
export const XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP = 1 << 3;
export const XEN_NETIF_CTRL_HASH_ALGORITHM_NONE = 0;
export const XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ = 1;

export const XEN_NETIF_CTRL_TYPE_INVALID = 0;
export const XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS = 1;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS = 2;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_KEY = 3;
export const XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE = 4;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE = 5;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING = 6;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM = 7;
export const XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE = 8;
export const XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING = 9;
export const XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING = 10;

export const XEN_NETIF_CTRL_STATUS_SUCCESS = 0;
export const XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED = 1;
export const XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER = 2;
export const XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW = 3;

/** A control-ring request: XEN_NETIF_CTRL_TYPE_* `type` with up to three data words. */
export const xen_netif_ctrl_request = struct('struct xen_netif_ctrl_request', {
  id: uint16_t,
  type: uint16_t,
  data: array(uint32_t, 3),
});

/** A control-ring response: XEN_NETIF_CTRL_STATUS_* `status` and one data word. */
export const xen_netif_ctrl_response = struct('struct xen_netif_ctrl_response', {
  id: uint16_t,
  type: uint16_t,
  status: uint32_t,
  data: uint32_t,
});

export const XEN_NETIF_CTRLF_GREF_readonly = 1 << 0;

/** An entry of the grant-mapping table the control ring manages. */
export const xen_netif_gref = struct('struct xen_netif_gref', {
  ref: grant_ref_t,
  flags: uint16_t,
  status: uint16_t,
});

const ctrlRing = sharedRing('xen_netif_ctrl', xen_netif_ctrl_request, xen_netif_ctrl_response);
export const xen_netif_ctrl_sring_entry = ctrlRing.entry;
export const xen_netif_ctrl_sring = ctrlRing.sring;

export const NETTXF_csum_blank = 1 << 0;
export const NETTXF_data_validated = 1 << 1;
export const NETTXF_more_data = 1 << 2;
export const NETTXF_extra_info = 1 << 3;
export const XEN_NETIF_MAX_TX_SIZE = 0xffff;

/** A transmit slot: `size` bytes at `offset` of granted page `gref` (the first slot's size is the packet's). */
export const netif_tx_request = struct('struct netif_tx_request', {
  gref: grant_ref_t,
  offset: uint16_t,
  flags: uint16_t,
  id: uint16_t,
  size: uint16_t,
});

export const XEN_NETIF_EXTRA_TYPE_NONE = 0;
export const XEN_NETIF_EXTRA_TYPE_GSO = 1;
export const XEN_NETIF_EXTRA_TYPE_MCAST_ADD = 2;
export const XEN_NETIF_EXTRA_TYPE_MCAST_DEL = 3;
export const XEN_NETIF_EXTRA_TYPE_HASH = 4;
export const XEN_NETIF_EXTRA_TYPE_MAX = 5;
export const XEN_NETIF_EXTRA_FLAG_MORE = 1 << 0;
export const XEN_NETIF_GSO_TYPE_NONE = 0;
export const XEN_NETIF_GSO_TYPE_TCPV4 = 1;
export const XEN_NETIF_GSO_TYPE_TCPV6 = 2;

/** An extra-info slot following a request with the extra_info flag. */
export const netif_extra_info = struct('struct netif_extra_info', {
  type: uint8_t,
  flags: uint8_t,
  u: union(undefined, {
    gso: struct(undefined, { size: uint16_t, type: uint8_t, pad: uint8_t, features: uint16_t }),
    mcast: struct(undefined, { addr: array(uint8_t, 6) }),
    hash: struct(undefined, { type: uint8_t, algorithm: uint8_t, value: array(uint8_t, 4) }),
    pad: array(uint16_t, 3),
  }),
});

/** The response to transmit request `id`: NETIF_RSP_* `status`. */
export const netif_tx_response = struct('struct netif_tx_response', {
  id: uint16_t,
  status: int16_t,
});

/** A receive slot: an empty granted page for the backend to fill. */
export const netif_rx_request = struct('struct netif_rx_request', {
  id: uint16_t,
  pad: uint16_t,
  gref: grant_ref_t,
});

export const NETRXF_data_validated = 1 << 0;
export const NETRXF_csum_blank = 1 << 1;
export const NETRXF_more_data = 1 << 2;
export const NETRXF_extra_info = 1 << 3;
export const NETRXF_gso_prefix = 1 << 4;

/** A received fragment: `status` bytes at `offset` (or a negative NETIF_RSP_* code). */
export const netif_rx_response = struct('struct netif_rx_response', {
  id: uint16_t,
  offset: uint16_t,
  flags: uint16_t,
  status: int16_t,
});

const txRing = sharedRing('netif_tx', netif_tx_request, netif_tx_response);
export const netif_tx_sring_entry = txRing.entry;
export const netif_tx_sring = txRing.sring;
const rxRing = sharedRing('netif_rx', netif_rx_request, netif_rx_response);
export const netif_rx_sring_entry = rxRing.entry;
export const netif_rx_sring = rxRing.sring;

export const NETIF_RSP_DROPPED = -2;
export const NETIF_RSP_ERROR = -1;
export const NETIF_RSP_OKAY = 0;
export const NETIF_RSP_NULL = 1;
