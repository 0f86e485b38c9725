using System.Reflection;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// Walking and editing a TorchSharp module tree by dotted names. TorchSharp registers submodules from
/// private fields and refuses to register a name twice, so replacing a child means updating both the
/// parent's field (what forward() uses) and its registration (what names and state dicts use), in place
/// so that the parameter order is unchanged. Where the field's declared type cannot hold the replacement
/// (TorchSharp's Linear is sealed), the field keeps the original and a forward hook routes calls made
/// through <c>call()</c> to the replacement.
/// </summary>
public static class ModuleTree
{
    private static readonly FieldInfo SubmodulesField = typeof(nn.Module).GetField("_internal_submodules", BindingFlags.NonPublic | BindingFlags.Instance)
        ?? throw new InvalidOperationException("this TorchSharp version has no Module._internal_submodules");

    /// <summary>Every module under root with its dotted name ("" for root), each instance once, parents first.</summary>
    public static IEnumerable<(string Name, nn.Module Module)> NamedModules(nn.Module root)
    {
        var seen = new HashSet<nn.Module>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(string, nn.Module)>();
        stack.Push(("", root));
        while (stack.Count > 0)
        {
            var (name, module) = stack.Pop();
            if (!seen.Add(module)) continue;
            yield return (name, module);
            foreach (var (child, sub) in module.named_children().Reverse())
                stack.Push((name.Length == 0 ? child : name + "." + child, sub));
        }
    }

    public static nn.Module Get(nn.Module root, string name)
    {
        var module = root;
        foreach (var part in name.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var next = module.named_children().FirstOrDefault(c => c.name == part).module
                ?? throw new PeftException($"module \"{name}\" not found (no child \"{part}\")");
            module = next;
        }
        return module;
    }

    public static (nn.Module Parent, string Child) Parent(nn.Module root, string name)
    {
        int dot = name.LastIndexOf('.');
        return dot < 0 ? (root, name) : (Get(root, name[..dot]), name[(dot + 1)..]);
    }

    /// <summary>Puts replacement where the named child is; returns how to undo it.</summary>
    public static Replacement Replace(nn.Module root, string name, nn.Module replacement)
    {
        var (parent, child) = Parent(root, name);
        var original = Get(root, name);
        var registry = Registry(parent);
        if (!registry.ContainsKey(child)) throw new PeftException($"module \"{name}\" is not a registered child of its parent");

        Action? hook = null;
        var field = FindField(parent.GetType(), child);
        if (field != null && field.FieldType.IsInstanceOfType(replacement))
        {
            field.SetValue(parent, replacement);
        }
        else if (parent is System.Collections.IList list && int.TryParse(child, out int index) && list.Count > index && CanHold(list, replacement))
        {
            list[index] = replacement;
        }
        else if (original is nn.Module<Tensor, Tensor> hookable && replacement is IForwardWithBase routed)
        {
            if (root is PretrainedModel)
                throw new PeftException($"cannot wrap module \"{name}\": its field type {original.GetType().Name} cannot hold an adapter layer");
            var remover = hookable.register_forward_hook((_, input, output) => routed.ForwardWithBase(input, output));
            hook = remover.remove;
        }
        else
        {
            throw new PeftException($"cannot replace module \"{name}\" ({original.GetType().Name}): its field in {parent.GetType().Name} cannot hold a {replacement.GetType().Name}");
        }
        registry[child] = replacement;
        return new Replacement(root, name, original, replacement, field, hook);
    }

    private static bool CanHold(System.Collections.IList list, nn.Module m)
    {
        var element = list.GetType().GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IList<>))?.GetGenericArguments()[0];
        return element != null && element.IsInstanceOfType(m);
    }

    internal static IDictionary<string, nn.Module> Registry(nn.Module parent) =>
        (IDictionary<string, nn.Module>)SubmodulesField.GetValue(parent)!;

    private static FieldInfo? FindField(Type? type, string componentName)
    {
        for (; type != null && type != typeof(nn.Module); type = type.BaseType)
            foreach (var f in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                if ((f.GetCustomAttribute<TorchSharp.Utils.ComponentNameAttribute>()?.Name ?? f.Name) == componentName && typeof(nn.Module).IsAssignableFrom(f.FieldType))
                    return f;
        return null;
    }

    /// <summary>A done replacement; Restore puts the original back in field and registration.</summary>
    public sealed class Replacement(nn.Module root, string name, nn.Module original, nn.Module replacement, FieldInfo? field, Action? hook)
    {
        public string Name => name;
        public nn.Module Original => original;
        public nn.Module Module => replacement;
        public bool RoutedByHook => hook != null;

        public void Restore(nn.Module? with = null)
        {
            var put = with ?? original;
            var (parent, child) = Parent(root, name);
            hook?.Invoke();
            if (hook == null)
            {
                if (field != null && field.FieldType.IsInstanceOfType(put)) field.SetValue(parent, put);
                else if (parent is System.Collections.IList list && int.TryParse(child, out int i)) list[i] = put;
            }
            Registry(parent)[child] = put;
        }
    }
}

/// <summary>A wrapper that can add its contribution to an output the base module already computed (used by forward hooks).</summary>
public interface IForwardWithBase
{
    Tensor ForwardWithBase(Tensor input, Tensor baseOutput);
}
