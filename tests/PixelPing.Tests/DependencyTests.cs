using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace PixelPing.Tests;

/// <summary>
/// The folders of src/PixelPing depend one way (src/PixelPing/README.md): a folder uses only those below it. Read from
/// the compiled assembly, every type a type names in its signatures, base types, attributes and method bodies, since
/// code reaches other folders through the enclosing namespace without a <c>using</c> line.
/// </summary>
public sealed class DependencyTests
{
    // Bottom first (src/PixelPing/README.md says why). A folder may use its own namespace and any folder listed
    // before it; the root (Program, Server, CommandLine) reads the config and wires them all together.
    private static readonly string[] s_layers =
    [
        "Interop", "Common", "Http", "Filtering", "Config", "Tls", "Net", "Counting", "Flushing", "Monitoring", "Lifecycle", "",
    ];

    // The one known upward use, "from -> to (Folder/Type)": Common/Log writes the flush's ignored-hits line with a
    // JSON field per reason, so it names Filtering's tally. It goes when that line is written by its caller through an
    // explicit Log.Info with fields (Common/Log.cs is being rewritten around a writer thread meanwhile).
    // The second: the config reader parses a database endpoint's URI with the PostgreSQL and Redis clients' own parsers,
    // so that a bad URI stops the start in one line; it goes when those parsers move down beside the reader.
    private static readonly string[] s_knownExceptions =
    [
        "Common -> Filtering (Filtering/IgnoreReason, Filtering/IgnoredHits)",
        "Config -> Flushing (Flushing/PostgresEndpoint, Flushing/PostgresTables, Flushing/PostgresUri, Flushing/PostgresUriResult, Flushing/RedisEndpoint, Flushing/RedisKeys)",
    ];

    [Fact]
    public void No_folder_depends_on_one_above_it()
    {
        var upward = new List<string>();
        foreach ((string from, Dictionary<string, SortedSet<string>> targets) in s_uses.Value)
        {
            foreach ((string to, SortedSet<string> types) in targets)
            {
                if (from != to && Layer(to) > Layer(from))
                {
                    upward.Add($"{Name(from)} -> {Name(to)} ({string.Join(", ", types)})");
                }
            }
        }

        upward.Sort(StringComparer.Ordinal);
        Assert.Empty(s_knownExceptions.Except(upward)); // an exception that no longer holds leaves the list
        upward.RemoveAll(s_knownExceptions.Contains);
        Assert.True(upward.Count == 0, "upward dependencies:\n" + string.Join("\n", upward));
    }

    [Fact]
    public void Every_folder_has_its_place_in_the_order()
    {
        Dictionary<string, Dictionary<string, SortedSet<string>>> uses = s_uses.Value;
        Assert.All(uses.Keys.Concat(uses.Values.SelectMany(v => v.Keys)), folder => Assert.Contains(folder, s_layers));
    }

    [Fact]
    public void The_reader_sees_a_dependency_that_has_no_using_line()
    {
        // Flushing/Batch.cs names Counting.Snapshot through the enclosing namespace only.
        Assert.Contains("Counting/Snapshot", s_uses.Value["Flushing"]["Counting"]);
    }

    // The product's assembly as the build copied it beside the tests.
    private static readonly Lazy<Dictionary<string, Dictionary<string, SortedSet<string>>>> s_uses =
        new(() => ReadDependencies(Path.Combine(AppContext.BaseDirectory, "pixel-ping.dll")));

    private static int Layer(string folder) => Array.IndexOf(s_layers, folder);

    private static string Name(string folder) => folder.Length == 0 ? "(root)" : folder;

    /// <summary>
    /// Folder (first namespace part under PixelPing, "" for the root) to each folder its types use, with the types used
    /// there ("Folder/Type").
    /// </summary>
    private static Dictionary<string, Dictionary<string, SortedSet<string>>> ReadDependencies(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        MetadataReader reader = pe.GetMetadataReader();
        var provider = new TypeCollector(reader);
        var uses = new Dictionary<string, Dictionary<string, SortedSet<string>>>(StringComparer.Ordinal);
        var context = new GenericContext();

        foreach (TypeDefinitionHandle handle in reader.TypeDefinitions)
        {
            string? from = provider.Folder(handle);
            if (from is null)
            {
                continue;
            }

            provider.Found.Clear();
            TypeDefinition type = reader.GetTypeDefinition(handle);
            provider.AddEntity(type.BaseType);
            foreach (InterfaceImplementationHandle i in type.GetInterfaceImplementations())
            {
                provider.AddEntity(reader.GetInterfaceImplementation(i).Interface);
            }

            provider.AddAttributes(type.GetCustomAttributes());
            foreach (FieldDefinitionHandle f in type.GetFields())
            {
                FieldDefinition field = reader.GetFieldDefinition(f);
                field.DecodeSignature(provider, context);
                provider.AddAttributes(field.GetCustomAttributes());
            }

            foreach (PropertyDefinitionHandle p in type.GetProperties())
            {
                provider.AddAttributes(reader.GetPropertyDefinition(p).GetCustomAttributes());
            }

            foreach (MethodDefinitionHandle m in type.GetMethods())
            {
                MethodDefinition method = reader.GetMethodDefinition(m);
                method.DecodeSignature(provider, context);
                provider.AddAttributes(method.GetCustomAttributes());
                foreach (ParameterHandle p in method.GetParameters())
                {
                    provider.AddAttributes(reader.GetParameter(p).GetCustomAttributes());
                }

                if (method.RelativeVirtualAddress != 0)
                {
                    provider.AddBody(pe.GetMethodBody(method.RelativeVirtualAddress));
                }
            }

            if (!uses.TryGetValue(from, out Dictionary<string, SortedSet<string>>? targets))
            {
                uses[from] = targets = new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal);
            }

            foreach (TypeDefinitionHandle used in provider.Found)
            {
                if (provider.Folder(used) is string to)
                {
                    if (!targets.TryGetValue(to, out SortedSet<string>? types))
                    {
                        targets[to] = types = new SortedSet<string>(StringComparer.Ordinal);
                    }

                    types.Add($"{Name(to)}/{provider.TopName(used)}");
                }
            }
        }

        return uses;
    }

    private readonly struct GenericContext;

    /// <summary>Collects the types of this assembly that a signature, an attribute or a method body names.</summary>
    private sealed class TypeCollector(MetadataReader reader) : ISignatureTypeProvider<int, GenericContext>
    {
        private static readonly Dictionary<short, OperandType> s_operands = typeof(OpCodes)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (OpCode)f.GetValue(null)!)
            .ToDictionary(o => o.Value, o => o.OperandType);

        public HashSet<TypeDefinitionHandle> Found { get; } = [];

        /// <summary>The folder of a type of this assembly, or null for compiler-made types outside any namespace.</summary>
        public string? Folder(TypeDefinitionHandle handle)
        {
            TypeDefinition type = reader.GetTypeDefinition(handle);
            while (type.GetDeclaringType() is { IsNil: false } outer)
            {
                type = reader.GetTypeDefinition(outer);
            }

            string ns = reader.GetString(type.Namespace);
            if (ns == "PixelPing")
            {
                return "";
            }

            return ns.StartsWith("PixelPing.", StringComparison.Ordinal) ? ns["PixelPing.".Length..].Split('.')[0] : null;
        }

        /// <summary>The name of the top-level type that holds a type (a nested or compiler-made one included).</summary>
        public string TopName(TypeDefinitionHandle handle)
        {
            TypeDefinition type = reader.GetTypeDefinition(handle);
            while (type.GetDeclaringType() is { IsNil: false } outer)
            {
                type = reader.GetTypeDefinition(outer);
            }

            return reader.GetString(type.Name);
        }

        public void AddEntity(EntityHandle handle)
        {
            if (handle.IsNil)
            {
                return;
            }

            switch (handle.Kind)
            {
                case HandleKind.TypeDefinition:
                    Found.Add((TypeDefinitionHandle)handle);
                    break;
                case HandleKind.TypeSpecification:
                    reader.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(this, default);
                    break;
                case HandleKind.MethodDefinition:
                    Found.Add(reader.GetMethodDefinition((MethodDefinitionHandle)handle).GetDeclaringType());
                    break;
                case HandleKind.FieldDefinition:
                    Found.Add(reader.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType());
                    break;
                case HandleKind.MemberReference:
                    MemberReference member = reader.GetMemberReference((MemberReferenceHandle)handle);
                    AddEntity(member.Parent);
                    if (member.GetKind() == MemberReferenceKind.Method)
                    {
                        member.DecodeMethodSignature(this, default);
                    }
                    else
                    {
                        member.DecodeFieldSignature(this, default);
                    }

                    break;
                case HandleKind.MethodSpecification:
                    MethodSpecification spec = reader.GetMethodSpecification((MethodSpecificationHandle)handle);
                    AddEntity(spec.Method);
                    spec.DecodeSignature(this, default);
                    break;
                case HandleKind.StandaloneSignature:
                    StandaloneSignature signature = reader.GetStandaloneSignature((StandaloneSignatureHandle)handle);
                    if (signature.GetKind() == StandaloneSignatureKind.LocalVariables)
                    {
                        signature.DecodeLocalSignature(this, default);
                    }
                    else
                    {
                        signature.DecodeMethodSignature(this, default);
                    }

                    break;
            }
        }

        public void AddAttributes(CustomAttributeHandleCollection attributes)
        {
            foreach (CustomAttributeHandle a in attributes)
            {
                AddEntity(reader.GetCustomAttribute(a).Constructor);
            }
        }

        public void AddBody(MethodBodyBlock body)
        {
            AddEntity(body.LocalSignature);
            BlobReader il = body.GetILReader();
            while (il.RemainingBytes > 0)
            {
                short code = il.ReadByte();
                if (code == 0xFE)
                {
                    code = (short)(0xFE00 | il.ReadByte());
                }

                switch (s_operands[code])
                {
                    case OperandType.InlineNone:
                        break;
                    case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                        il.Offset += 1;
                        break;
                    case OperandType.InlineVar:
                        il.Offset += 2;
                        break;
                    case OperandType.InlineI8 or OperandType.InlineR:
                        il.Offset += 8;
                        break;
                    case OperandType.InlineSwitch:
                        int cases = il.ReadInt32();
                        il.Offset += cases * 4;
                        break;
                    case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType
                        or OperandType.InlineSig:
                        AddEntity(MetadataTokens.EntityHandle(il.ReadInt32()));
                        break;
                    default:
                        il.Offset += 4;
                        break;
                }
            }
        }

        public int GetTypeFromDefinition(MetadataReader r, TypeDefinitionHandle handle, byte rawTypeKind)
        {
            Found.Add(handle);
            return 0;
        }

        public int GetTypeFromReference(MetadataReader r, TypeReferenceHandle handle, byte rawTypeKind) => 0;

        public int GetTypeFromSpecification(MetadataReader r, GenericContext context, TypeSpecificationHandle handle, byte rawTypeKind)
        {
            r.GetTypeSpecification(handle).DecodeSignature(this, context);
            return 0;
        }

        public int GetArrayType(int elementType, ArrayShape shape) => 0;

        public int GetByReferenceType(int elementType) => 0;

        public int GetFunctionPointerType(MethodSignature<int> signature) => 0;

        public int GetGenericInstantiation(int genericType, ImmutableArray<int> typeArguments) => 0;

        public int GetGenericMethodParameter(GenericContext genericContext, int index) => 0;

        public int GetGenericTypeParameter(GenericContext genericContext, int index) => 0;

        public int GetModifiedType(int modifier, int unmodifiedType, bool isRequired) => 0;

        public int GetPinnedType(int elementType) => 0;

        public int GetPointerType(int elementType) => 0;

        public int GetPrimitiveType(PrimitiveTypeCode typeCode) => 0;

        public int GetSZArrayType(int elementType) => 0;
    }
}
