/** The part of seek-bzip (MIT, pure JavaScript bzip2 decoder) xenlab uses; the package ships no types. */
declare module 'seek-bzip' {
  const Bunzip: {
    /** Decodes a whole .bz2 buffer; `multistream` continues through concatenated streams. Throws on corrupt data. */
    decode(input: Buffer, output?: Buffer | number, multistream?: boolean): Buffer;
  };
  export default Bunzip;
}
